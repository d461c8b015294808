/**
 * Shared fixtures for the audit CLI tests: a store written by several clients through the real
 * Log API (ingest between clients, a members log with a membership change), and forgeries that
 * bypass the Log and go straight into the store with `putBatch`.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest'
import { CID } from 'multiformats/cid'
import { createXSync, type XSyncClient } from '../../src/log/client.js'
import { encodeEvent, signingMessage, type EventFields } from '../../src/log/codec.js'
import { generateIdentity, type Identity } from '../../src/log/identity.js'
import type { LogEvent } from '../../src/log/log.js'
import type { EventPut, EventStore } from '../../src/stores/event-store.js'
import { sqliteStore } from '../../src/stores/sqlite-store.js'

/** The real executable's entry, as `stateflow` runs it. */
export const MAIN = join(import.meta.dirname, '../../src/cli/main.ts')
const exec = promisify(execFile)

/** Spawn the real CLI. Resolves with the exit code and both streams, whatever the code. */
export async function spawnCli(args: string[], options: { timeoutMs?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, ['--import', 'tsx', MAIN, ...args], { encoding: 'utf8', ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}) })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    if (typeof e.code !== 'number') throw err
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

export function tempDir(prefix = 'stateflow-cli-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

/**
 * A SQLite store with `writeFixture` written into it, in a temp dir of its own: made before each
 * test (`'each'`) or once for the describe block (`'all'`), and removed after. Call it in the
 * block; read `path` and `written` in tests (they are set by then).
 */
export function sqliteFixture(scope: 'each' | 'all', file = 'store.db'): { readonly dir: string; readonly path: string; readonly written: Written } {
  let tmp: ReturnType<typeof tempDir> | undefined
  let written: Written | undefined
  const setup = async (): Promise<void> => {
    tmp = tempDir()
    written = await writeFixture(sqliteStore(join(tmp.dir, file)))
  }
  const cleanup = (): void => tmp?.cleanup()
  if (scope === 'each') {
    beforeEach(setup)
    afterEach(cleanup)
  } else {
    beforeAll(setup)
    afterAll(cleanup)
  }
  const made = <T>(x: T | undefined): T => {
    if (x === undefined) throw new Error('sqliteFixture: read in a test, after its setup ran')
    return x
  }
  return {
    get dir() {
      return made(tmp).dir
    },
    get path() {
      return join(made(tmp).dir, file)
    },
    get written() {
      return made(written)
    },
  }
}

const wire = (events: LogEvent[]) => events.map((e) => (e.sig ? { bytes: e.bytes, sig: e.sig } : { bytes: e.bytes }))

/** Copy every event of a log from one client to another (in total order, as sync sends them). */
export async function sync(from: XSyncClient, to: XSyncClient, log: string): Promise<void> {
  const all: LogEvent[] = []
  for await (const e of from.log(log).events()) all.push(e)
  const results = await to.log(log).ingest(wire(all))
  const bad = results.filter((r) => r.status === 'rejected' || r.status === 'pending')
  if (bad.length > 0) throw new Error(`sync of ${log} left ${bad.length} events out: ${bad.map((r) => r.code ?? r.status).join(', ')}`)
}

export interface Written {
  /** The open log written by three clients. */
  chat: string
  /** The members log (`log:<cid>`) with a membership change. */
  members: string
  identities: { owner: Identity; bob: Identity; carol: Identity }
  events: number
}

/**
 * Write into `store` (through a client that owns it) an open log with three writers that ingest
 * each other's events, and a members log where the owner adds bob, who then writes.
 * Closes the store when done.
 */
export async function writeFixture(store: EventStore): Promise<Written> {
  const owner = await createXSync({ store })
  const bob = await createXSync()
  const carol = await createXSync()
  const chat = 'chat'
  await owner.log(chat).append('app.message', { text: 'hello' })
  await bob.log(chat).append('app.message', { text: 'hi from bob', raw: new Uint8Array([1, 2, 3]) })
  await carol.log(chat).appendBatch([
    { type: 'app.message', body: { text: 'carol 1' } },
    { type: 'app.message', body: { text: 'carol 2' } },
    { type: 'app.message', body: { text: 'carol 3' } },
  ])
  await sync(bob, owner, chat)
  await sync(carol, owner, chat)
  await sync(owner, bob, chat)
  await bob.log(chat).append('app.message', { text: 'bob again' })
  await sync(bob, owner, chat)
  await owner.log(chat).append('app.message', { text: 'owner again' })

  const log = await owner.createLog({ writers: [] })
  await log.append('app.note', { text: 'owner note' })
  await log.addMembers({ writers: [bob.did] })
  await sync(owner, bob, log.id)
  await bob.log(log.id).append('app.note', { text: 'bob note' })
  await sync(bob, owner, log.id)
  await log.append('app.note', { text: 'owner after bob' })

  const events = (await owner.log(chat).count()) + (await owner.log(log.id).count())
  const identities = { owner: owner.identity, bob: bob.identity, carol: carol.identity }
  await bob.close()
  await carol.close()
  await owner.close()
  return { chat, members: log.id, identities, events }
}

export interface ForgeInit {
  log: string
  author: Identity
  type?: string
  body?: unknown
  /** Override fields the forger would otherwise derive from the store. */
  fields?: Partial<EventFields>
  /** Sign with this identity instead of the author (a bad signature). */
  signer?: Identity
  /** Leave the event unsigned. */
  unsigned?: boolean
}

/**
 * Build an event as a correct writer would (prev = the author's highest tip, parents = the
 * store's heads, clock = 1 + max), apply the overrides, sign it and put it straight into the
 * store. Returns the event's CID string.
 */
export async function forge(store: EventStore, init: ForgeInit): Promise<{ cid: string; put: EventPut }> {
  const heads = await store.heads(init.log)
  let clock = 0
  for (const h of heads) clock = Math.max(clock, (await store.get(h))!.clock)
  let prev: EventPut | undefined
  for (const t of await store.tips(init.log)) {
    const s = (await store.get(t))!
    if (Buffer.compare(s.author, init.author.publicKey) === 0 && (!prev || s.seq > prev.seq)) prev = { ...s, prev: null, parents: [] }
  }
  const fields: EventFields = {
    v: 1,
    log: init.log,
    author: init.author.publicKey,
    seq: (prev?.seq ?? 0) + 1,
    prev: prev ? CID.decode(prev.cid) : null,
    parents: heads.map((h) => CID.decode(h)).sort((a, b) => Buffer.compare(a.bytes, b.bytes)),
    clock: clock + 1,
    time: Date.now(),
    type: init.type ?? 'app.forged',
    body: init.body ?? { forged: true },
    ...init.fields,
  }
  const { bytes, cid } = encodeEvent(fields)
  const put: EventPut = {
    cid: cid.bytes,
    bytes,
    log: init.log,
    author: fields.author,
    seq: fields.seq,
    clock: fields.clock,
    prev: fields.prev?.bytes ?? null,
    parents: fields.parents.map((p) => p.bytes),
  }
  if (!init.unsigned) put.sig = await (init.signer ?? init.author).sign(signingMessage(cid))
  await store.putBatch([put])
  return { cid: cid.toString(), put }
}

export { generateIdentity }
