/**
 * `stateflow demo [--dir <path>]`: the main job on the embedded default (SQLite files).
 *
 * Two peers, each with its own SQLite store, share one members log: alice creates it with bob as
 * a writer, both write while apart, then they exchange what the other lacks (by version vector,
 * no transport yet: issue 3 adds the sync protocol) and show that both derive the same heads and
 * the same total order. Finally the audit re-checks both files from their bytes.
 */
import { mkdirSync, rmSync, existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { createXSync, type XSyncClient } from '../log/client.js'
import type { LogEvent } from '../log/log.js'
import type { SignedEvent } from '../log/codec.js'
import { publicKeyToDid } from '../log/identity.js'
import { sqliteStore } from '../stores/sqlite-store.js'
import { auditVerify } from './audit-verify.js'
import { EXIT_INTEGRITY, EXIT_OK, type Output } from './io.js'

export interface DemoOptions {
  /** Where the two SQLite files go. @default ./stateflow-demo */
  dir?: string
}

/** The events `to` lacks from `from`, as wire pairs: everything past `to`'s seq for each author. */
async function missing(from: XSyncClient, to: XSyncClient, id: string): Promise<SignedEvent[]> {
  const have = await to.log(id).versionVector()
  const out: SignedEvent[] = []
  for await (const e of from.log(id).events()) {
    if (e.seq > (have.get(publicKeyToDid(e.author)) ?? 0)) out.push(e.sig ? { bytes: e.bytes, sig: e.sig } : { bytes: e.bytes })
  }
  return out
}

async function order(client: XSyncClient, id: string): Promise<LogEvent[]> {
  const out: LogEvent[] = []
  for await (const e of client.log(id).events()) out.push(e)
  return out
}

/** JSON for people: byte arrays as `<n bytes>`. */
function show(body: unknown): string {
  return JSON.stringify(body, (_k, v: unknown) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v))
}

export async function demo(options: DemoOptions, io: Output): Promise<number> {
  const dir = resolve(options.dir ?? 'stateflow-demo')
  mkdirSync(dir, { recursive: true })
  const files = { alice: join(dir, 'alice.db'), bob: join(dir, 'bob.db') }
  for (const f of Object.values(files)) for (const suffix of ['', '-wal', '-shm']) if (existsSync(f + suffix)) rmSync(f + suffix)

  const alice = await createXSync({ store: sqliteStore(files.alice) })
  const bob = await createXSync({ store: sqliteStore(files.bob) })
  const name = (did: string) => (did === alice.did ? 'alice' : did === bob.did ? 'bob' : did.slice(0, 20))
  try {
    io.out(`alice ${alice.did}`)
    io.out(`bob   ${bob.did}`)
    const log = await alice.createLog({ writers: [bob.did] })
    io.out(`\nalice creates ${log.id} (policy: members, writers: bob)`)
    await bob.log(log.id).ingest(await missing(alice, bob, log.id))

    io.out('\nwhile apart:')
    await alice.log(log.id).append('demo.order.placed', { order: 1, item: 'tea', qty: 2 })
    await alice.log(log.id).appendBatch([
      { type: 'demo.order.placed', body: { order: 2, item: 'cake', qty: 1 } },
      { type: 'demo.order.paid', body: { order: 1 } },
    ])
    io.out('  alice appends 3 events (one single, one batch of 2 under one signature)')
    await bob.log(log.id).append('demo.order.shipped', { order: 1, carrier: 'bike' })
    await bob.log(log.id).append('demo.note', { text: 'out of cake' })
    io.out('  bob appends 2 events')

    const toBob = await missing(alice, bob, log.id)
    const toAlice = await missing(bob, alice, log.id)
    const rb = await bob.log(log.id).ingest(toBob, { from: 'alice' })
    const ra = await alice.log(log.id).ingest(toAlice, { from: 'bob' })
    io.out(`\nexchange: alice -> bob ${toBob.length} events (${rb.filter((r) => r.status === 'stored').length} stored), bob -> alice ${toAlice.length} (${ra.filter((r) => r.status === 'stored').length} stored)`)
    const merge = await alice.log(log.id).append('demo.note', { text: 'merged' })
    await bob.log(log.id).ingest(await missing(alice, bob, log.id))
    io.out(`alice appends a merge event with ${merge.parents.length} parents`)

    const [a, b] = [await order(alice, log.id), await order(bob, log.id)]
    io.out('\nthe log in total order (clock, CID), as both peers derive it:')
    for (const e of a) io.out(`  clock ${String(e.clock).padEnd(2)} ${name(publicKeyToDid(e.author)).padEnd(5)} #${e.seq} ${e.type.padEnd(20)} ${show(e.body)}`)
    const same = a.map((e) => e.cid.toString()).join() === b.map((e) => e.cid.toString()).join()
    const headsA = (await alice.log(log.id).heads()).map(String)
    const headsB = (await bob.log(log.id).heads()).map(String)
    io.out(`\nsame order on both peers: ${same ? 'yes' : 'NO'}; same heads: ${headsA.join() === headsB.join() ? 'yes' : 'NO'} (${headsA.join(', ')})`)
    await alice.close()
    await bob.close()

    let code = same && headsA.join() === headsB.join() ? EXIT_OK : EXIT_INTEGRITY
    for (const [who, file] of Object.entries(files)) {
      io.out(`\n$ stateflow audit verify --store ${file}   (${who})`)
      const verified = await auditVerify({ store: file }, io)
      if (verified !== EXIT_OK) code = EXIT_INTEGRITY
    }
    io.out(`\nfiles: ${files.alice}, ${files.bob}`)
    return code
  } finally {
    await alice.close()
    await bob.close()
  }
}
