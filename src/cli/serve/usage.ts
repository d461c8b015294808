/** `stateflow serve`'s flags and help text: what the command table needs without loading the server. */

export const SERVE_SUMMARY = 'a peer with WebSocket and HTTP/SSE sync, the inspector page and the demo page'

export const SERVE_FLAGS = { store: 'string', port: 'string', host: 'string' } as const

export const SERVE_USAGE = `Usage: stateflow serve --store <path> --port <n> [--host 127.0.0.1]

Run a peer on a store, with on one HTTP server:
  /sync      WebSocket sync (dial ws://<host>:<port>/sync)
  /sse       HTTP + server-sent events sync (dial http://<host>:<port>/sse)
  /          the inspector page: logs, runs step by step (inputs, outputs, attempts, claim
             winners and why), each log's DAG, connected peers; it updates live
  /api/      the JSON API it reads: node, logs, logs/<id>, logs/<id>/dag, runs, runs/<id>,
             runs/<id>/timeline, peers; /api/live streams changes as server-sent events
  /health    200 with JSON while the server runs
  /demo/     the demo page

The peer replicates every log its peers ask about. It runs workflow steps only for the demo
page's runs (the server steps of /demo/). Its identity is kept in the store, so its did stays
the same across restarts.

The API and the page have no authentication and show every log of the store. Bound to
127.0.0.1 (the default) they answer to localhost names only; bound to another interface, to
whoever reaches it.

  --store <path>  a .db/.sqlite/.sqlite3 file (SQLite store, created if missing) or a
                  directory (fs store, created if missing or empty)
  --port <n>      port to listen on, 0 for any free port (the one taken is printed)
  --host <addr>   interface to bind  [default: 127.0.0.1]

Prints the http, ws and sse addresses once listening. SIGINT or SIGTERM stops it: no new
connections, the client and the store are closed cleanly, exit 0.

Exit: 0 stopped by a signal, 2 usage, a store that cannot be opened, or a port that cannot be
bound.`
