/**
 * A/B of the workQueue fold from scratch: this tree against another checkout of the project,
 * interleaved in one process, so both see the same machine minute by minute. On a shared
 * machine whose speed moves 2× within minutes, this is how a change's own effect is measured
 * (BENCHMARKS.md, issue 4); the ratio, not the rate, is the figure.
 *
 *   git worktree add /tmp/base <commit> && ln -s "$PWD/node_modules" /tmp/base/node_modules
 *   node --import tsx bench/ab-views.ts /tmp/base [--pairs 36]
 *
 * Prints each side's median and best rate and the median of the per-pair time ratios B/A
 * (> 1: this tree is faster), with how many pairs this tree won. Two checkouts of the same
 * commit give 1.00 ± 0.01.
 */
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { median } from './harness.js'
import { workItems } from './views.js'

const args = process.argv.slice(2)
const other = args.find((a) => !a.startsWith('--'))
if (!other) {
  console.error('usage: node --import tsx bench/ab-views.ts <other checkout> [--pairs N]')
  process.exit(2)
}
const pairsAt = args.indexOf('--pairs')
const pairs = pairsAt >= 0 ? Number(args[pairsAt + 1]) : 36
const n = 100_000
const WARMUP = 4

interface Side {
  label: string
  client: { store: unknown; close(): Promise<void> }
  log: unknown
  ViewHost: new (log: unknown, store: unknown, view: unknown, options: object) => { read<T>(fn: (s: { items: { size: number } }) => T): Promise<T>; close(): Promise<void> }
  workQueueView: (o: { name: string }) => unknown
}

async function side(label: string, root: string): Promise<Side> {
  const load = (p: string) => import(pathToFileURL(path.join(root, p)).href)
  const { createXSync } = await load('src/log/client.ts')
  const { ViewHost } = await load('src/views/host.ts')
  const { workQueueView } = await load('src/views/work-queue.ts')
  const client = await createXSync()
  const log = client.log('q')
  // The bench's work (bench/views.ts): enqueue, claim, renew and complete per item, 256 events
  // per signature. Event types are the protocol, the same in both checkouts.
  const items = workItems(n, 0)
  for (let i = 0; i < n; i += 256) await log.appendBatch(items.slice(i, i + 256))
  // A host persists its checkpoint once the fold is current; not timed, and not wanted here.
  ViewHost.prototype.persist = async () => {}
  return { label, client, log, ViewHost, workQueueView }
}

async function fold(s: Side, run: number): Promise<number> {
  const t0 = performance.now()
  const host = new s.ViewHost(s.log, s.client.store, s.workQueueView({ name: `ab-${run}` }), { checkpointEvery: 1000 })
  const size = await host.read((st) => st.items.size)
  const ms = performance.now() - t0
  if (size !== n / 4) throw new Error(`${s.label}: fold gave ${size} items`)
  await host.close()
  await new Promise((r) => setTimeout(r, 10))
  return ms
}

const a = await side('A (this tree)', path.resolve(import.meta.dirname, '..'))
const b = await side('B', path.resolve(other))
const ta: number[] = []
const tb: number[] = []
const ratio: number[] = []
for (let r = 0; r < pairs + WARMUP; r++) {
  // Alternate which side goes first, so neither always runs after the other's garbage.
  const [x, y] = r % 2 ? [await fold(a, r), await fold(b, r)] : [await fold(b, r), await fold(a, r)].reverse()
  if (r < WARMUP) continue
  ta.push(x)
  tb.push(y)
  ratio.push(y / x)
}
const rate = (ms: number): string => Math.round((n / ms) * 1000).toLocaleString('en-US')
console.log(`${a.label}: ${rate(median(ta))} events/s median, best ${rate(Math.min(...ta))}`)
console.log(`B (${other}): ${rate(median(tb))} events/s median, best ${rate(Math.min(...tb))}`)
console.log(`B/A time, median of ${ratio.length} pairs: ${median(ratio).toFixed(3)}; this tree faster in ${ratio.filter((x) => x > 1).length}`)
await a.client.close()
await b.client.close()
process.exit(0)
