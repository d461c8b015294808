/**
 * Summarize a V8 CPU profile (`node --cpu-prof`): the functions with the most self time, and the
 * same grouped by source file. For reading where a benchmark spends its time:
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/ingest.ts --filter ingest.batched.memory
 *   node --import tsx bench/profile-top.ts /tmp/prof/CPU.*.cpuprofile [--top 30]
 */
import fs from 'node:fs'

interface CallFrame {
  functionName: string
  url: string
  lineNumber: number
  columnNumber: number
}
interface ProfileNode {
  id: number
  callFrame: CallFrame
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

function shortUrl(url: string): string {
  if (!url) return ''
  const u = url.replace(/^file:\/\//, '')
  const nm = u.lastIndexOf('node_modules/')
  if (nm >= 0) return u.slice(nm + 'node_modules/'.length)
  const src = u.search(/\/(src|bench|test)\//)
  return src >= 0 ? u.slice(src + 1) : u
}

export function summarize(file: string, top = 25): string {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile
  const byId = new Map(p.nodes.map((n) => [n.id, n]))
  const self = new Map<number, number>()
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0))
  const total = [...self.values()].reduce((a, b) => a + b, 0)
  const fnTime = new Map<string, number>()
  const fileTime = new Map<string, number>()
  for (const [id, t] of self) {
    const cf = byId.get(id)!.callFrame
    const where = shortUrl(cf.url)
    const key = `${cf.functionName || '(anonymous)'}  ${where ? `${where}:${cf.lineNumber + 1}` : ''}`.trim()
    fnTime.set(key, (fnTime.get(key) ?? 0) + t)
    const f = where ? where.split(':')[0] : cf.functionName
    fileTime.set(f, (fileTime.get(f) ?? 0) + t)
  }
  // Inclusive ("total") time: each sample counts once for every distinct function on its stack.
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const label = (cf: CallFrame): string => {
    const where = shortUrl(cf.url)
    return `${cf.functionName || '(anonymous)'}  ${where ? `${where}:${cf.lineNumber + 1}` : ''}`.trim()
  }
  const inclusive = new Map<string, number>()
  for (const [id, t] of self) {
    const seen = new Set<string>()
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const k = label(byId.get(cur)!.callFrame)
      if (seen.has(k) || k === '(root)') continue
      seen.add(k)
      inclusive.set(k, (inclusive.get(k) ?? 0) + t)
    }
  }
  const pct = (t: number): string => `${((t / total) * 100).toFixed(1).padStart(5)}%  ${(t / 1000).toFixed(0).padStart(7)} ms`
  const lines = [`${file}: ${(total / 1000).toFixed(0)} ms sampled`, '', 'top self time by function:']
  for (const [k, t] of [...fnTime].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(t)}  ${k}`)
  lines.push('', 'total (inclusive) time by function:')
  for (const [k, t] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`  ${pct(t)}  ${k}`)
  lines.push('', 'self time by file:')
  for (const [k, t] of [...fileTime].sort((a, b) => b[1] - a[1]).slice(0, Math.min(top, 15))) lines.push(`  ${pct(t)}  ${k}`)
  return lines.join('\n')
}

const args = process.argv.slice(2)
const topAt = args.indexOf('--top')
const top = topAt >= 0 ? Number(args.splice(topAt, 2)[1]) : 25
for (const f of args) console.log(summarize(f, top) + '\n')
