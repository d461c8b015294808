/**
 * The runtime's clock: when timers, retries and lease ends come due on this peer. Give clients
 * the same clock (`createXSync({ now: clock.now })`) so the times events carry agree with it.
 */
export interface Clock {
  now(): number
  /** Call `fn` once `ms` have passed on this clock; returns a cancel function. */
  setTimer(ms: number, fn: () => void): () => void
}

export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimer(ms: number, fn: () => void) {
    // Node caps timers at 2^31 - 1 ms; wake early and let the scheduler look again.
    const t = setTimeout(fn, Math.min(Math.max(0, ms), 2 ** 31 - 1))
    return () => clearTimeout(t)
  },
})

/** A clock that moves only when told to: tests of timers, retries and leases run in no real time. */
export interface VirtualClock extends Clock {
  /** Move forward `ms`, firing due timers in time order (and letting the work they start settle). */
  advance(ms: number): Promise<void>
}

export function virtualClock(start = 1_700_000_000_000): VirtualClock {
  let t = start
  let seq = 0
  const timers = new Map<number, { at: number; fn: () => void }>()
  const settle = async (): Promise<void> => {
    // A few macrotask turns: promise chains and I/O callbacks the timers started run on.
    for (let i = 0; i < 5; i++) await new Promise<void>((r) => (typeof setImmediate === "function" ? setImmediate(r) : setTimeout(r, 0)))
  }
  const clock: VirtualClock = {
    now: () => t,
    setTimer(ms, fn) {
      const id = seq++
      timers.set(id, { at: t + Math.max(0, ms), fn })
      return () => void timers.delete(id)
    },
    async advance(ms) {
      const end = t + ms
      for (;;) {
        let next: [number, { at: number; fn: () => void }] | undefined
        for (const entry of timers) if (entry[1].at <= end && (!next || entry[1].at < next[1].at || (entry[1].at === next[1].at && entry[0] < next[0]))) next = entry
        if (!next) break
        timers.delete(next[0])
        if (next[1].at > t) t = next[1].at
        next[1].fn()
        await settle()
      }
      t = end
      await settle()
    },
  }
  return clock
}
