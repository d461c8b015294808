import { Worker } from 'node:worker_threads'
import { afterEach, describe, expect, it } from 'vitest'
import { broadcastChannelTransport } from '../../src/transports/broadcast-channel.js'
import type { CloseInfo, Connection, Transport } from '../../src/transports/transport.js'
import { transportSuite } from '../conformance/transport/index.js'
import { broadcastChannelFixture } from '../conformance/transport/broadcast-channel.js'
import { eventually } from '../conformance/index.js'

const TAG = 'stateflow/bc/1'
let channels = 0
/** A channel per test, so no test hears another's traffic. */
const freshChannel = (): string => `bc-test-${process.pid}-${++channels}`

const transports: Transport[] = []
const raws: BroadcastChannel[] = []
function keep<T extends Transport>(t: T): T {
  transports.push(t)
  return t
}
/** A bare channel in the test's hands: a peer that speaks the wire format, or junk. */
function raw(name: string): { channel: BroadcastChannel; seen: Record<string, unknown>[] } {
  const channel = new BroadcastChannel(name)
  raws.push(channel)
  const seen: Record<string, unknown>[] = []
  channel.onmessage = (ev: MessageEvent) => seen.push(ev.data as Record<string, unknown>)
  return { channel, seen }
}
async function closeAll(): Promise<void> {
  for (const c of raws.splice(0)) c.close()
  await Promise.all(transports.splice(0).map((t) => t.close?.()))
}

transportSuite(broadcastChannelFixture('broadcastChannel', { freshChannel, keep, teardown: closeAll }))

function ended(conn: Connection): Promise<CloseInfo> {
  return new Promise((resolve) => conn.onClose(resolve))
}


describe('broadcastChannel - bus behaviour', () => {
  afterEach(closeAll)

  it('echoes through a listener in a worker thread, in order, with junk on the channel ignored', async () => {
    const name = freshChannel()
    const worker = new Worker(new URL('./broadcast-channel.echo-worker.mjs', import.meta.url), { workerData: { channel: name, id: 'echo' } })
    const errors: unknown[] = []
    worker.on('error', (e) => errors.push(e))
    try {
      const ready = await new Promise<string>((resolve) => worker.once('message', (m: { ready: string }) => resolve(m.ready)))
      expect(ready).toBe(`bc:${name}/echo`)
      const t = keep(broadcastChannelTransport(name, { id: 'main' }))
      const conn = await t.dial(ready)
      const connId = (conn as unknown as { id: string }).id
      const back: Uint8Array[] = []
      conn.onFrame((f) => back.push(f))
      const junk: unknown[] = [
        'text',
        42,
        null,
        [],
        { p: TAG },
        { p: TAG, t: 'frame', from: 'main', to: 'echo', conn: 'no-such-connection', frame: new Uint8Array(3) },
        { p: TAG, t: 'frame', from: 'main', to: 'echo', conn: connId, frame: 'not bytes' },
        { p: TAG, t: 'frame', from: 'main', to: 'echo', conn: connId, frame: new Uint16Array(2) },
        { p: TAG, t: 'close', from: 'main', to: 'echo', conn: connId, reason: 7 },
        { p: TAG, t: 'open', from: 'main', to: 'echo', conn: connId, max: -1 },
        { p: TAG, t: 'bogus', from: 'main', to: 'echo', conn: connId },
        { p: TAG, t: 'frame', from: 'x'.repeat(1000), to: 'echo', conn: connId, frame: new Uint8Array(1) },
      ]
      const noise = raw(name)
      const n = 200
      for (let i = 0; i < n; i++) {
        const f = new Uint8Array(4 + (i % 50) * 97)
        new DataView(f.buffer).setUint32(0, i)
        f.fill(i & 0xff, 4)
        await conn.send(f)
        noise.channel.postMessage(junk[i % junk.length])
      }
      await eventually(() => back.length === n, `${n} echoes`, 30_000)
      for (let i = 0; i < n; i++) {
        const f = back[i]
        expect(new DataView(f.buffer, f.byteOffset).getUint32(0)).toBe(i)
        expect(f.length).toBe(4 + (i % 50) * 97)
        expect(f.subarray(4).every((b) => b === (i & 0xff))).toBe(true)
      }
      expect(conn.closed).toBe(false)
      worker.postMessage('stop')
      const stopped = await new Promise<{ frames: number }>((resolve) => worker.once('message', resolve))
      expect(stopped.frames).toBe(n)
      // The worker closed its transport, which ends our connection with its reason.
      const info = await ended(conn)
      expect(info).toMatchObject({ local: false, reason: 'transport closed' })
      expect(errors).toEqual([])
    } finally {
      await worker.terminate()
    }
  })

  it('speaks its wire format to a hand-made peer: ack with the smaller bound; a frame over it is cut off with an error', async () => {
    const name = freshChannel()
    const node = keep(broadcastChannelTransport(name, { id: 'n', maxFrameBytes: 1024 }))
    const accepted: Connection[] = []
    await node.listen((c) => accepted.push(c))
    const peer = raw(name)
    peer.channel.postMessage({ p: TAG, t: 'open', from: 'hand', to: 'n', conn: 'c1', max: 1 << 30 })
    await eventually(() => peer.seen.length === 1, 'the ack')
    expect(peer.seen[0]).toEqual({ p: TAG, t: 'ack', from: 'n', to: 'hand', conn: 'c1', max: 1024 })
    expect(accepted).toHaveLength(1)
    expect(accepted[0].remote).toBe(`bc:${name}/hand`)
    const end = ended(accepted[0])
    peer.channel.postMessage({ p: TAG, t: 'frame', from: 'hand', to: 'n', conn: 'c1', frame: new Uint8Array(1025) })
    const info = await end
    expect(info.error).toMatchObject({ code: 'TOO_LARGE' })
    await eventually(() => peer.seen.length === 2, 'the close')
    expect(peer.seen[1]).toMatchObject({ t: 'close', conn: 'c1', failed: true })
  })

  it('both ends of a dial use the smaller frame bound', async () => {
    const name = freshChannel()
    const small = keep(broadcastChannelTransport(name, { id: 'small', maxFrameBytes: 1000 }))
    const accepted: Connection[] = []
    const listening = await small.listen((c) => accepted.push(c))
    const conn = await keep(broadcastChannelTransport(name, { id: 'big', maxFrameBytes: 5000 })).dial(listening.addresses[0])
    await eventually(() => accepted.length === 1, 'accept')
    expect(conn.maxFrameBytes).toBe(1000)
    expect(accepted[0].maxFrameBytes).toBe(1000)
    await expect(conn.send(new Uint8Array(1001))).rejects.toMatchObject({ code: 'TOO_LARGE' })
  })

  it('a dial nobody answers is CONNECT; an answer that comes too late is closed', async () => {
    const name = freshChannel()
    const t = keep(broadcastChannelTransport(name, { id: 'd', connectTimeoutMs: 100 }))
    const slow = raw(name)
    await expect(t.dial(`bc:${name}/slow`)).rejects.toMatchObject({ code: 'CONNECT' })
    expect(slow.seen).toHaveLength(1)
    const open = slow.seen[0]
    expect(open).toMatchObject({ p: TAG, t: 'open', from: 'd', to: 'slow' })
    slow.channel.postMessage({ p: TAG, t: 'ack', from: 'slow', to: 'd', conn: open.conn, max: 10 })
    await eventually(() => slow.seen.length === 2, 'the close of the late connection')
    expect(slow.seen[1]).toMatchObject({ t: 'close', conn: open.conn, reason: 'dial timed out' })
  })

  it('refuses malformed addresses and options with INVALID_ARGUMENT, and works no more after close', async () => {
    const name = freshChannel()
    const t = keep(broadcastChannelTransport(name, { id: 'me' }))
    expect(t.canDial(`bc:${name}/you`)).toBe(true)
    expect(t.canDial(`bc:${name}/a/b`)).toBe(false)
    expect(t.canDial(`bc:other/you`)).toBe(false)
    expect(t.canDial('memory:you')).toBe(false)
    await expect(t.dial('bc:other/you')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    await expect(t.dial(`bc:${name}/me`)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' })
    expect(() => broadcastChannelTransport('')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    expect(() => broadcastChannelTransport(name, { id: 'a/b' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    expect(() => broadcastChannelTransport(name, { maxFrameBytes: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }))
    await t.close()
    await expect(t.dial(`bc:${name}/you`)).rejects.toMatchObject({ code: 'CLOSED' })
  })

  it('close() ends every connection it made or accepted, and stops answering', async () => {
    const name = freshChannel()
    const a = keep(broadcastChannelTransport(name, { id: 'a' }))
    const b = keep(broadcastChannelTransport(name, { id: 'b' }))
    const accepted: Connection[] = []
    await a.listen((c) => accepted.push(c))
    await b.listen(() => {})
    const fromB = await b.dial(`bc:${name}/a`)
    const fromA = await a.dial(`bc:${name}/b`)
    await eventually(() => accepted.length === 1, 'accept')
    const ends = [ended(fromB), ended(fromA), ended(accepted[0])]
    await a.close()
    const infos = await Promise.all(ends)
    expect(infos.map((i) => i.local)).toEqual([false, true, true])
    expect(infos[0].reason).toBe('transport closed')
    const c = keep(broadcastChannelTransport(name, { id: 'c', connectTimeoutMs: 200 }))
    await expect(c.dial(`bc:${name}/a`)).rejects.toMatchObject({ code: 'CONNECT' })
  })
})
