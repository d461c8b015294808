// Worker entry for bench/sync.ts: on Node 20, execArgv ['--import', 'tsx'] does not reach a
// worker's module loading, so this plain JS registers tsx and then loads the TypeScript worker.
import { register } from 'tsx/esm/api'

register()
await import('./sync-worker.ts')
