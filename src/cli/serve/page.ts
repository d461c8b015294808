/**
 * The inspector page: HTML, CSS and vanilla JS as strings (no bundler, no framework), served at
 * `/`, `/inspector.css` and `/inspector.js`. Separate files rather than inline blocks so the
 * Content-Security-Policy can forbid inline script and style: the page renders log contents,
 * which any peer writes, and builds the DOM only through `textContent` and attributes.
 */
import { INSPECTOR_JS } from './page-script.js'

export interface PageAsset {
  contentType: string
  body: string
}

/** Headers for the page's files. */
export const PAGE_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
}

const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>StateFlow inspector</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/inspector.css">
<script src="/inspector.js" defer></script>
</head>
<body>
<header>
  <h1>StateFlow inspector</h1>
  <div id="node" class="muted">connecting…</div>
  <div><span id="live-status" class="badge off">offline</span> <span class="muted">updates: <span id="live-count">0</span></span></div>
</header>
<main>
  <section id="runs-panel">
    <h2>Runs <span id="runs-total" class="muted"></span></h2>
    <table id="runs"><thead><tr><th>run</th><th>workflow</th><th>status</th><th>steps</th><th>events</th></tr></thead><tbody></tbody></table>
    <p id="runs-empty" class="muted">No runs yet.</p>
  </section>
  <section id="logs-panel">
    <h2>Logs <span id="logs-total" class="muted"></span></h2>
    <table id="logs"><thead><tr><th>log</th><th>events</th><th>heads</th></tr></thead><tbody></tbody></table>
    <p id="logs-empty" class="muted">No logs yet.</p>
  </section>
  <section id="peers-panel">
    <h2>Peers <span id="peers-total" class="muted"></span></h2>
    <table id="peers"><thead><tr><th>did</th><th>transport</th><th>direction</th><th>address</th><th>logs</th></tr></thead><tbody></tbody></table>
    <p id="peers-empty" class="muted">No peers connected.</p>
  </section>
  <section id="run-panel" class="wide" hidden>
    <h2>Run <code id="run-title"></code> <span id="run-status" class="badge"></span></h2>
    <dl id="run-summary"></dl>
    <h3>Steps</h3>
    <table id="run-steps"><thead><tr><th>step</th><th>status</th><th>attempt</th><th>on</th><th>input</th><th>output / error</th><th>claims: verdict and why</th></tr></thead><tbody></tbody></table>
    <h3>Timeline <span id="timeline-count" class="muted"></span></h3>
    <table id="run-timeline"><thead><tr><th>#</th><th>time</th><th>event</th><th>by</th><th>step</th><th>attempt</th><th>decision</th><th>data</th></tr></thead><tbody></tbody></table>
  </section>
  <section id="dag-panel" class="wide" hidden>
    <h2>DAG of <code id="dag-title"></code> <span id="dag-count" class="muted"></span></h2>
    <p class="muted">Events as nodes, left to right by clock, one lane per author; lines point to parents (dashed: the author's previous event).</p>
    <div id="dag"></div>
  </section>
  <p id="error" class="error" hidden></p>
</main>
</body>
</html>
`

const CSS = `
:root { --fg: #1d2430; --muted: #6b7280; --line: #d9dee7; --bg: #f7f8fa; --card: #fff; --accent: #2563eb; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; gap: 1.5rem; align-items: baseline; flex-wrap: wrap; padding: .75rem 1.25rem; background: var(--card); border-bottom: 1px solid var(--line); }
h1 { font-size: 1.1rem; margin: 0; }
h2 { font-size: 1rem; margin: 0 0 .5rem; }
h3 { font-size: .9rem; margin: 1rem 0 .4rem; }
main { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 1rem; padding: 1rem 1.25rem; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .75rem; overflow-x: auto; }
section.wide { grid-column: 1 / -1; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .25rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: .8rem; }
tr.selected td { background: #eef4ff; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: .8rem; }
pre { margin: 0; white-space: pre-wrap; word-break: break-all; max-width: 32rem; max-height: 8rem; overflow: auto; }
button.link { background: none; border: none; padding: 0; color: var(--accent); cursor: pointer; font: inherit; text-align: left; }
button.link:hover { text-decoration: underline; }
.muted { color: var(--muted); }
.error { color: #b91c1c; grid-column: 1 / -1; }
.badge { display: inline-block; padding: 0 .45rem; border-radius: 999px; font-size: .75rem; background: #e5e7eb; }
.badge.on { background: #dcfce7; color: #166534; }
.badge.off { background: #fee2e2; color: #991b1b; }
.status-completed, .status-succeeded, .verdict-won, .verdict-accepted { background: #dcfce7; color: #166534; }
.status-running, .status-claimed, .status-ready { background: #dbeafe; color: #1e40af; }
.status-awaiting-signal, .status-sleeping, .status-retrying, .status-compensating { background: #fef9c3; color: #854d0e; }
.status-failed, .status-cancelled, .verdict-lost, .verdict-stale { background: #fee2e2; color: #991b1b; }
.verdict-duplicate, .verdict-ignored { background: #f3f4f6; color: #4b5563; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: .5rem 0; }
dt { color: var(--muted); }
dd { margin: 0; }
ul.claims { margin: 0; padding-left: 1rem; }
#dag { overflow: auto; max-height: 70vh; border: 1px solid var(--line); border-radius: 4px; }
#dag svg { display: block; }
#dag .edge { stroke: #94a3b8; stroke-width: 1.2; fill: none; }
#dag .edge.prev { stroke-dasharray: 4 3; }
#dag .node { stroke: #1e293b; stroke-width: 1; fill: #cbd5e1; }
#dag .node.t-workflow { fill: #60a5fa; }
#dag .node.t-step { fill: #34d399; }
#dag .node.t-fail { fill: #f87171; }
#dag .node.t-peer { fill: #fbbf24; }
#dag .node.t-signal { fill: #c084fc; }
#dag .lane { font-size: 10px; fill: var(--muted); }
#dag .label { font-size: 9px; fill: #334155; }
`

export const INSPECTOR_ASSETS: Readonly<Record<string, PageAsset>> = {
  'index.html': { contentType: 'text/html; charset=utf-8', body: HTML },
  'inspector.css': { contentType: 'text/css; charset=utf-8', body: CSS },
  'inspector.js': { contentType: 'text/javascript; charset=utf-8', body: INSPECTOR_JS },
}
