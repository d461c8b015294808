/**
 * Runs every benchmark module and prints one table.
 *
 *   npm run bench                      # everything, median of 3 runs (a few minutes)
 *   npm run bench -- --quick           # smaller counts
 *   npm run bench -- --only ingest     # some modules (crypto, append, ingest, scan, codec, sync, views; the ceiling always runs)
 *   npm run bench -- --filter ingest.sqlite,scan.sqlite
 *   node --import tsx bench/ingest.ts  # one module on its own
 *
 * The raw node:crypto Ed25519 rates are measured first, in the same process, as the ceiling the
 * signing figures are compared with. Benchmarks print figures; they assert nothing.
 */
import { appendBench } from './append.js'
import { codecBench } from './codec.js'
import { cryptoBench } from './crypto.js'
import { flowBench } from './flow.js'
import { ingestBench } from './ingest.js'
import { scanBench } from './scan.js'
import { syncBench } from './sync.js'
import { viewsBench } from './views.js'
import { isMain, parseArgs, runModules, type BenchModule } from './harness.js'

export const modules: Record<string, BenchModule> = {
  crypto: cryptoBench,
  append: appendBench,
  ingest: ingestBench,
  scan: scanBench,
  codec: codecBench,
  sync: syncBench,
  views: viewsBench,
  flow: flowBench,
}

if (isMain(import.meta.url)) {
  const opts = parseArgs()
  const names = opts.only ?? Object.keys(modules)
  for (const n of names) if (!modules[n]) throw new Error(`bench: unknown module ${n} (have ${Object.keys(modules).join(', ')})`)
  // The ceiling first, always: every other figure is read against it.
  const selected = ['crypto', ...names.filter((n) => n !== 'crypto')].map((n) => modules[n])
  await runModules(selected, opts)
}
