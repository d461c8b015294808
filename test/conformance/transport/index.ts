/**
 * The Transport conformance suite. `test/transports/<kind>.test.ts` calls `transportSuite` with a
 * fixture that makes a listening transport and a dialing one; every transport passes the same
 * checks: whole frames in order both ways, the frame bound, close from either side, reconnect,
 * backpressure, refused dials, several connections on one listener.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Connection, Listening, Transport } from '../../../src/transports/transport.js'
import type { TestSetup } from '../index.js'
import { prng, eventually } from '../index.js'

export interface TransportPair {
  /** Listens (its `listen` is called by the suite). */
  listener: Transport
  /** Dials the listener's first address. Several dials from it must work. */
  dialer: Transport
  /** An address in the dialer's form where nobody listens. */
  deadAddress: string
  /** A second, independent dialer, for the several-connections check. */
  otherDialer?: Transport
}

export interface TransportFixture extends TestSetup<TransportPair> {
  name: string
  capabilities: {
    /** The other side sees the reason given to `close(reason)`. */
    closeReason: boolean
  }
}

/** A frame carrying its index and a seeded payload of `size` bytes, so order and content both check. */
function frame(i: number, size: number, seed: number): Uint8Array {
  const f = new Uint8Array(Math.max(8, size))
  const view = new DataView(f.buffer)
  view.setUint32(0, i)
  view.setUint32(4, seed)
  const rand = prng(i * 7919 + seed)
  for (let k = 8; k < f.length; k++) f[k] = (rand() * 256) | 0
  return f
}

function frameIndex(f: Uint8Array): number {
  return new DataView(f.buffer, f.byteOffset, f.byteLength).getUint32(0)
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Frames received on `conn`, and a way to wait for a count. */
function collect(conn: Connection): { frames: Uint8Array[]; until(n: number, ms?: number): Promise<void> } {
  const frames: Uint8Array[] = []
  const waiters: { n: number; resolve: () => void }[] = []
  conn.onFrame((f) => {
    frames.push(f.slice())
    for (const w of waiters.slice()) if (frames.length >= w.n) {
      waiters.splice(waiters.indexOf(w), 1)
      w.resolve()
    }
  })
  return {
    frames,
    until(n, ms = 20_000) {
      if (frames.length >= n) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`got ${frames.length} of ${n} frames`)), ms)
        waiters.push({ n, resolve: () => (clearTimeout(timer), resolve()) })
      })
    },
  }
}

function closedPromise(conn: Connection): Promise<{ local: boolean; reason?: string }> {
  return new Promise((resolve) => conn.onClose(resolve))
}


export function transportSuite(fixture: TransportFixture): void {
  describe(`${fixture.name} - transport conformance`, () => {
    let pair: TransportPair
    let listening: Listening
    let accepted: Connection[]
    let address: string

    beforeEach(async () => {
      pair = await fixture.setup()
      accepted = []
      listening = await pair.listener.listen!((c) => accepted.push(c))
      expect(listening.addresses.length).toBeGreaterThan(0)
      address = listening.addresses[0]
      expect(pair.dialer.canDial(address)).toBe(true)
    })
    afterEach(async () => {
      await listening.close()
      await fixture.teardown()
    })

    async function connect(dialer: Transport = pair.dialer): Promise<[Connection, Connection]> {
      const before = accepted.length
      const out = await dialer.dial(address)
      await eventually(() => accepted.length > before, 'the listener to accept')
      return [out, accepted[accepted.length - 1]]
    }

    it('carries whole frames in order, both ways at once', async () => {
      const [a, b] = await connect()
      const ra = collect(a)
      const rb = collect(b)
      const rand = prng(42)
      const sizes = Array.from({ length: 300 }, () => (rand() < 0.1 ? 20_000 + ((rand() * 60_000) | 0) : 8 + ((rand() * 400) | 0)))
      const sent = async (c: Connection, seed: number) => {
        for (let i = 0; i < sizes.length; i++) await c.send(frame(i, sizes[i], seed))
      }
      await Promise.all([sent(a, 1), sent(b, 2)])
      await Promise.all([ra.until(sizes.length), rb.until(sizes.length)])
      expect(rb.frames.map(frameIndex)).toEqual(sizes.map((_, i) => i))
      expect(ra.frames.map(frameIndex)).toEqual(sizes.map((_, i) => i))
      for (let i = 0; i < sizes.length; i++) {
        expect(sameBytes(rb.frames[i], frame(i, sizes[i], 1))).toBe(true)
        expect(sameBytes(ra.frames[i], frame(i, sizes[i], 2))).toBe(true)
      }
    })

    it('keeps frames that arrive before a handler is set, and lets the sender reuse its buffer', async () => {
      const [a, b] = await connect()
      const buf = frame(0, 64, 9)
      const want = buf.slice()
      await a.send(buf)
      buf.fill(0)
      await a.send(frame(1, 64, 9))
      await new Promise((r) => setTimeout(r, 50))
      const rb = collect(b)
      await rb.until(2)
      expect(sameBytes(rb.frames[0], want)).toBe(true)
      expect(frameIndex(rb.frames[1])).toBe(1)
    })

    it('carries a frame of exactly maxFrameBytes; one byte more is TOO_LARGE and the connection stays open', async () => {
      const [a, b] = await connect()
      expect(a.maxFrameBytes).toBe(b.maxFrameBytes)
      const rb = collect(b)
      const big = frame(7, a.maxFrameBytes, 3)
      await a.send(big)
      await expect(a.send(new Uint8Array(a.maxFrameBytes + 1))).rejects.toMatchObject({ code: 'TOO_LARGE' })
      await a.send(frame(8, 16, 3))
      await rb.until(2)
      expect(rb.frames[0].length).toBe(a.maxFrameBytes)
      expect(sameBytes(rb.frames[0], big)).toBe(true)
      expect(frameIndex(rb.frames[1])).toBe(8)
      expect(a.closed).toBe(false)
      expect(b.closed).toBe(false)
    })

    for (const side of ['dialing', 'listening'] as const) {
      it(`close from the ${side} side ends both ends; later sends are CLOSED`, async () => {
        const [a, b] = await connect()
        const [closer, other] = side === 'dialing' ? [a, b] : [b, a]
        const otherEnd = closedPromise(other)
        const closerEnd = closedPromise(closer)
        await closer.close('done here')
        const info = await otherEnd
        expect(info.local).toBe(false)
        if (fixture.capabilities.closeReason) expect(info.reason).toBe('done here')
        expect((await closerEnd).local).toBe(true)
        expect(closer.closed).toBe(true)
        expect(other.closed).toBe(true)
        await expect(closer.send(frame(0, 8, 0))).rejects.toMatchObject({ code: 'CLOSED' })
        await expect(other.send(frame(0, 8, 0))).rejects.toMatchObject({ code: 'CLOSED' })
        await closer.close() // idempotent
      })
    }

    it('reconnects after a close: a new dial gets a fresh, working connection', async () => {
      const [a1, b1] = await connect()
      const b1End = closedPromise(b1)
      await a1.close()
      await b1End
      const [a2, b2] = await connect()
      const rb = collect(b2)
      const ra = collect(a2)
      await a2.send(frame(1, 32, 5))
      await b2.send(frame(2, 32, 6))
      await Promise.all([rb.until(1), ra.until(1)])
      expect(frameIndex(rb.frames[0])).toBe(1)
      expect(frameIndex(ra.frames[0])).toBe(2)
      expect(a1.closed && b1.closed).toBe(true)
    })

    it('applies backpressure: awaiting each send of many large frames delivers them all', async () => {
      const [a, b] = await connect()
      const rb = collect(b)
      const size = Math.min(a.maxFrameBytes, 1 << 20)
      const n = 24
      for (let i = 0; i < n; i++) await a.send(frame(i, size, 11))
      await rb.until(n, 60_000)
      expect(rb.frames.map(frameIndex)).toEqual(Array.from({ length: n }, (_, i) => i))
      expect(rb.frames.every((f) => f.length === size)).toBe(true)
    })

    it('a dial where nobody listens fails with CONNECT', async () => {
      await expect(pair.dialer.dial(pair.deadAddress)).rejects.toMatchObject({ code: 'CONNECT' })
    })

    it('several connections on one listener stay apart', async () => {
      const [a1, b1] = await connect()
      const [a2, b2] = await connect(pair.otherDialer ?? pair.dialer)
      const r1 = collect(b1)
      const r2 = collect(b2)
      for (let i = 0; i < 20; i++) {
        await a1.send(frame(i, 16, 100))
        await a2.send(frame(i, 16, 200))
      }
      await Promise.all([r1.until(20), r2.until(20)])
      expect(r1.frames.every((f, i) => sameBytes(f, frame(i, 16, 100)))).toBe(true)
      expect(r2.frames.every((f, i) => sameBytes(f, frame(i, 16, 200)))).toBe(true)
      await a1.close()
      await eventually(() => b1.closed, 'the first connection to end')
      expect(b2.closed).toBe(false)
    })

    it('a closed listener accepts no more dials; open connections keep working', async () => {
      const [a, b] = await connect()
      await listening.close()
      await expect(pair.dialer.dial(address)).rejects.toMatchObject({ code: 'CONNECT' })
      const rb = collect(b)
      await a.send(frame(3, 16, 1))
      await rb.until(1)
      expect(frameIndex(rb.frames[0])).toBe(3)
    })
  })
}
