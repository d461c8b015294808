/**
 * Crash recovery: a peer on SQLite killed with SIGKILL in the middle of an effectful step.
 * Restarted on the same store (same identity), it re-derives the run from its log and finishes
 * it; the effect does not run again while the lease (or the authority's ttl) holds, and when it
 * does, the executor sees a new fencing token. A second peer can finish it instead (lease).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { createStateFlowRuntime, createXSync, flowRunView, type FlowRunState } from '../../src/index.js'
import { webSocketServer } from '../../src/transports/websocket-server.js'
import { sqliteStore } from '../../src/stores/sqlite-store.js'
import { crashWorkflow } from './fixtures/crash-workflow.js'

const fixture = fileURLToPath(new URL('./fixtures/crash-peer.ts', import.meta.url))
const root = fileURLToPath(new URL('../..', import.meta.url))
const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

function peer(args: string[]): { child: ChildProcess; lines: string[]; line(prefix: string): Promise<string>; exit: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] })
  cleanups.push(() => void child.kill('SIGKILL'))
  const lines: string[] = []
  const waiters: { prefix: string; resolve: (l: string) => void }[] = []
  let buf = ''
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString()
    let i
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i)
      buf = buf.slice(i + 1)
      lines.push(l)
      for (const w of waiters.filter((x) => l.startsWith(x.prefix))) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(l)
      }
    }
  })
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
  return {
    child,
    lines,
    exit,
    line: (prefix) => {
      const seen = lines.find((l) => l.startsWith(prefix))
      return seen ? Promise.resolve(seen) : new Promise((resolve) => waiters.push({ prefix, resolve }))
    },
  }
}

function effects(dir: string): { attempt: number; token: string; at: number; pid: number }[] {
  return readFileSync(join(dir, 'effects'), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
}

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'stateflow-crash-'))
  cleanups.push(() => rmSync(d, { recursive: true, force: true }))
  return d
}

describe('crash recovery on SQLite', () => {
  for (const mode of ['lease', 'authority'] as const) {
    it(`${mode}: killed mid-step, restarted on its store, it finishes the run; the effect runs again only after the ${mode === 'lease' ? 'lease' : 'ttl'} ran out, under a new token`, async () => {
      const dir = tempDir()
      const first = peer([dir, mode, 'hang'])
      await first.line('PAYING')
      first.child.kill('SIGKILL')
      await first.exit
      const [before] = effects(dir)

      const second = peer([dir, mode])
      const done = await second.line('DONE')
      expect(await second.exit).toBe(0)
      expect(JSON.parse(done.slice(5))).toBe('order-1:prepared:paid:shipped')
      const all = effects(dir)
      expect(all).toHaveLength(2)
      const [, again] = all
      expect(again.pid).not.toBe(before.pid)
      expect(again.token).not.toBe(before.token)
      // Not before the first claim's 1.5 s ran out: read the claim's log time from the store.
      const reader = await createXSync({ store: sqliteStore(join(dir, 'peer.sqlite')) })
      cleanups.push(() => reader.close())
      const runId = (await second.line('RUN ')).slice(4)
      const claim = await reader.log(runId).get(before.token)
      expect(claim?.type).toBe('stateflow.step.claimed')
      expect(again.at).toBeGreaterThan(claim!.time + 1500)
      if (mode === 'authority') expect(again.attempt).toBe(2)
    })
  }

  it('lease: another peer takes the step over once the lease runs out, under a new token, and the restarted peer agrees', async () => {
    const dir = tempDir()
    // Peer B, in this process: listens on WebSocket, can run every step.
    const server = webSocketServer({ port: 0, host: '127.0.0.1' })
    const b = await createXSync({ transports: [server], views: { flowRun: flowRunView } })
    cleanups.push(() => b.close())
    const [address] = await b.listen()
    const rtB = createStateFlowRuntime({ node: { id: 'node-2', kind: 'server', capabilities: [] }, workflows: [crashWorkflow('lease')] })
    cleanups.push(() => rtB.close())
    const tokensB: string[] = []
    rtB.register('t.prepare', () => {
      throw new Error('B never gets to prepare in this test')
    })
    rtB.register('t.pay', (ctx, x: string) => {
      tokensB.push(ctx.fencingToken!)
      return `${x}:paid-by-b`
    })
    rtB.register('t.ship', (_ctx, x: string) => `${x}:shipped-by-b`)

    // A (a child on SQLite) starts the run, wins `pay`, starts it and is killed.
    const a = peer([dir, 'lease', 'hang', address])
    const runId = (await a.line('RUN ')).slice(4)
    await a.line('PAYING')
    // B follows the run (it replicates only the logs it opened) until it sees A running `pay`.
    const run = await rtB.join(runId, { client: b })
    for (let i = 0; i < 200 && (await run.snapshot()).steps.pay?.status !== 'running'; i++) await new Promise((r) => setTimeout(r, 25))
    expect((await run.snapshot()).steps.pay.status).toBe('running')
    a.child.kill('SIGKILL')
    await a.exit
    const [killed] = effects(dir)

    const out = await run.result()
    expect(out).toBe('order-1:prepared:paid-by-b:shipped-by-b')
    expect(tokensB).toHaveLength(1)
    expect(tokensB[0]).not.toBe(killed.token)
    const s: FlowRunState = await run.snapshot()
    const won = s.steps.pay.decisions.filter((d) => d.verdict === 'won')
    expect(won.map((d) => d.cid)).toEqual([killed.token, tokensB[0]])
    expect(won[1].time - won[0].time).toBeGreaterThan(1500)

    // A restarts on its store: it syncs, sees the run done, and runs nothing again.
    const again = peer([dir, 'lease', '-', address])
    expect(JSON.parse((await again.line('DONE')).slice(5))).toBe(out)
    expect(await again.exit).toBe(0)
    expect(effects(dir)).toHaveLength(1)
  })
})
