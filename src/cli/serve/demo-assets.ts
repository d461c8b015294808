/**
 * The demo page `stateflow serve` mounts at `/demo/` (issue 7): tabs that are peers over
 * BroadcastChannel with IndexedDB stores. Path (relative to `/demo/`) → asset.
 *
 * The script is `demo-app.ts` bundled for the browser: `npm run build` writes it to
 * `dist/browser/demo-app.js`; run from the sources (tests, `tsx`), it is bundled on first request
 * with esbuild (a dev dependency), so the page always runs the code beside it.
 */
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'

export interface Asset {
  contentType: string
  body: string | Uint8Array
}

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>StateFlow demo: field approvals</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #1d2430; background: #f6f7f9; }
  header { display: flex; gap: 1.5em; align-items: baseline; padding: .8em 1.2em; background: #1d2430; color: #fff; }
  header h1 { font-size: 1.1em; margin: 0; }
  main { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 1em; padding: 1em 1.2em; }
  section { background: #fff; border-radius: 8px; padding: .8em 1em; box-shadow: 0 1px 2px #0002; }
  h2 { font-size: 1em; margin: 0 0 .5em; }
  [data-state=online] { color: #7ee08a; } [data-state=offline] { color: #ff9b8a; }
  .card { border: 1px solid #d5dae1; border-radius: 6px; padding: .6em; margin: .5em 0; }
  pre { white-space: pre-wrap; margin: .3em 0; }
  li { margin: .3em 0; } li[data-status=completed] { color: #16783a; }
  #error { color: #b00020; }
</style>
</head>
<body>
<header>
  <h1>StateFlow field approvals</h1>
  <span>this tab: <b id="tab">…</b></span>
  <span>server: <b id="server" data-state="offline">offline</b></span>
  <span>other tabs: <b id="tabs">0</b></span>
</header>
<p id="error"></p>
<main>
  <section>
    <h2>Capture notes (works offline)</h2>
    <form id="note-form"><input id="note" data-testid="note-input" placeholder="What did you see?" autocomplete="off"> <button data-testid="add-note">Add</button></form>
    <ul id="notes"></ul>
    <button id="request" data-testid="request" disabled>Request approval</button>
  </section>
  <section>
    <h2>Waiting for your approval</h2>
    <div id="forms"></div>
  </section>
  <section>
    <h2>Runs</h2>
    <ul id="runs"></ul>
  </section>
</main>
<script type="module" src="./app.js"></script>
</body>
</html>
`

let script: Promise<string> | undefined

/** The bundled demo script: the built file next to this module's package, or a fresh bundle of the sources. */
function appScript(): Promise<string> {
  script ??= (async () => {
    const here = fileURLToPath(import.meta.url)
    if (here.endsWith('.js')) return readFile(new URL('../../browser/demo-app.js', import.meta.url), 'utf8')
    const { build } = await import('esbuild')
    const out = await build({ entryPoints: [fileURLToPath(new URL('./demo-app.ts', import.meta.url))], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', minify: true, write: false, logLevel: 'silent' })
    return out.outputFiles[0].text
  })()
  script.catch(() => (script = undefined))
  return script
}

/** The demo's files. */
export async function demoAssets(): Promise<Record<string, Asset>> {
  return {
    '': { contentType: 'text/html; charset=utf-8', body: PAGE },
    'index.html': { contentType: 'text/html; charset=utf-8', body: PAGE },
    'app.js': { contentType: 'text/javascript; charset=utf-8', body: await appScript() },
  }
}
