/**
 * The Node side of the demo page: `stateflow serve` runs it on its own client. It keeps the demo's
 * logs open (so they replicate with the tabs that connect over WebSocket), joins every run a tab
 * starts, and runs the `server` steps.
 */
import type { XSyncClient } from '../../log/client.js'
import type { LogEvent } from '../../log/log.js'
import { createStateFlowRuntime, type StateFlowRuntime } from '../../flow/runtime.js'
import { approvalWorkflow, NOTES_LOG, RUN_STARTED, RUNS_LOG, serverExecutors } from './demo-approval.js'

export interface DemoPeer {
  readonly runtime: StateFlowRuntime
  close(): Promise<void>
}

export function startDemoPeer(client: XSyncClient, nodeId = 'serve'): DemoPeer {
  const runtime = createStateFlowRuntime({ node: { id: nodeId, kind: 'server', capabilities: [] }, workflows: [approvalWorkflow] })
  for (const [type, fn] of Object.entries(serverExecutors(nodeId))) runtime.register(type, fn)
  client.log(NOTES_LOG)
  const runs = client.log(RUNS_LOG)
  const joined = new Set<string>()
  const join = (e: LogEvent): void => {
    const id = (e.body as { runId?: unknown } | null)?.runId
    if (e.type !== RUN_STARTED || typeof id !== 'string' || id.length > 200 || joined.has(id)) return
    joined.add(id)
    void runtime.join(id, { client }).catch(() => joined.delete(id))
  }
  const off = runs.subscribe(join)
  void (async () => {
    for await (const e of runs.events()) join(e)
  })().catch(() => undefined)
  return {
    runtime,
    async close() {
      off()
      await runtime.close()
    },
  }
}
