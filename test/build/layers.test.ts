/**
 * Build properties as tests (STYLE 17): layers import one way (DESIGN §1), no circular imports,
 * and the main entry bundles for a browser with nothing Node-specific in it.
 */
import { describe, expect, it } from 'vitest'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative, dirname, resolve } from 'node:path'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'

const root = resolve(new URL('../..', import.meta.url).pathname)
const src = join(root, 'src')

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f)
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : []
  })
}

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  const out: string[] = []
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/g)) out.push(m[1])
  for (const m of text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1])
  return out
}

const layerOf = (file: string): string => {
  const rel = relative(src, file)
  if (rel === 'index.ts') return 'entry' // the public surface re-exports every layer
  return rel.includes('/') ? rel.split('/')[0] : 'root'
}

// What each layer may import from (besides itself and npm packages).
const allowed: Record<string, string[]> = {
  entry: ['root', 'dag', 'log', 'stores', 'transports', 'views', 'flow'],
  root: [],
  dag: [],
  stores: ['root', 'dag'],
  transports: ['root', 'dag'],
  log: ['root', 'dag', 'stores', 'transports'],
  views: ['root', 'dag', 'log', 'stores'],
  flow: ['root', 'dag', 'log', 'stores', 'views'],
  cli: ['root', 'dag', 'log', 'stores', 'transports', 'views', 'flow'],
}

describe('build - layers', () => {
  const all = files(src)
  const graph = new Map<string, string[]>()
  for (const f of all) {
    graph.set(
      f,
      imports(f)
        .filter((i) => i.startsWith('.'))
        .map((i) => resolve(dirname(f), i).replace(/\.js$/, '.ts')),
    )
  }

  it('every import points down the layer order of DESIGN §1', () => {
    const bad: string[] = []
    for (const [f, deps] of graph) {
      const from = layerOf(f)
      for (const d of deps) {
        const to = layerOf(d)
        if (to !== from && to !== 'root' && !(allowed[from] ?? []).includes(to)) bad.push(`${relative(root, f)} -> ${relative(root, d)}`)
        if (to === 'root' && from !== 'root' && relative(src, d) !== 'errors.ts') bad.push(`${relative(root, f)} -> ${relative(root, d)}`)
      }
      if (from === 'dag') for (const i of imports(f)) if (!i.startsWith('.')) bad.push(`${relative(root, f)} imports package ${i} (dag is pure)`)
    }
    expect(bad).toEqual([])
  })

  it('has no circular imports', () => {
    const cycles: string[] = []
    const state = new Map<string, 1 | 2>()
    const visit = (f: string, path: string[]) => {
      if (state.get(f) === 2) return
      if (state.get(f) === 1) {
        cycles.push([...path.slice(path.indexOf(f)), f].map((p) => relative(src, p)).join(' -> '))
        return
      }
      state.set(f, 1)
      for (const d of graph.get(f) ?? []) visit(d, [...path, f])
      state.set(f, 2)
    }
    for (const f of graph.keys()) visit(f, [])
    expect(cycles).toEqual([])
  })
})

describe('build - browser bundle', () => {
  it('the main entry bundles for a browser without Node built-ins, SQLite, fs or ws, under its size ceiling', async () => {
    const result = await build({
      entryPoints: [join(src, 'index.ts')],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      write: false,
      minify: true,
      metafile: true,
      logLevel: 'silent',
    })
    const inputs = Object.keys(result.metafile!.inputs)
    const mustNotAppear = ['better-sqlite3', 'node:fs', 'node:net', 'node:http', 'node:crypto', '/ws/', 'libp2p', 'sqlite-store', 'fs-store', 'websocket-server', 'http-node', '@automerge', 'doc-view', 'node_modules/zod', 'node_modules/xstate', 'flow/flowstate/']
    for (const bad of mustNotAppear) expect(inputs.filter((i) => i.includes(bad)), bad).toEqual([])
    const code = result.outputFiles[0].contents
    expect(new TextDecoder().decode(code)).not.toMatch(/from\s*["']node:/)
    // Ceiling: measured 2026-11-21 at ~33 KB gzip (noble ed25519 + hashes, multiformats, cborg,
    // dag-cbor, our code), then ~50 KB with the sync protocol and the browser-safe transports
    // (memory, WebSocket client, BroadcastChannel, HTTP + SSE), ~57 KB with the view host, the
    // work queue, claims, placement and presence (Automerge stays out: it is `stateflow/docs`),
    // ~71 KB with the workflow engine (definitions, run view, scheduler, runtime; zod stays out:
    // schemas are the user's, used through their own methods), ~77 KB with the definition registry
    // (RFC 8785 canonical JSON, a semver range matcher, signed manifests: ~4.4 KB gzip; its bucket
    // files are the Node-only `registry-fs`), ~80 KB with statechart runs (the run view's chart
    // mode and invocation steps, executor refs by semver range: ~3 KB; xState and the FlowState
    // engine stay out, in `stateflow/flowstate`).
    // Re-measure: run this test and read the size it prints; raise the ceiling only for code
    // that earns it.
    const gz = gzipSync(code).length
    console.log(`browser bundle: ${code.length} bytes minified, ${gz} bytes gzip`)
    expect(gz).toBeLessThan(84_000)
  })
})
