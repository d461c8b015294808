/**
 * The browser build (issue 7): the main entry as one ES module for pages that load it without a
 * bundler (dist/browser/stateflow.js), and the demo page's script (dist/browser/demo-app.js),
 * both from the compiled dist/ (run after tsc). Prints each file's size.
 */
import { build } from 'esbuild'
import { gzipSync } from 'node:zlib'
import { readFileSync } from 'node:fs'

const targets = [
  { entry: 'dist/index.js', out: 'dist/browser/stateflow.js' },
  { entry: 'dist/cli/serve/demo-app.js', out: 'dist/browser/demo-app.js' },
]
for (const t of targets) {
  await build({ entryPoints: [t.entry], outfile: t.out, bundle: true, format: 'esm', platform: 'browser', target: 'es2022', minify: true, sourcemap: true, logLevel: 'warning' })
  const code = readFileSync(t.out)
  console.log(`${t.out}: ${code.length} bytes, ${gzipSync(code).length} gzip`)
}
