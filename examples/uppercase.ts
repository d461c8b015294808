/**
 * The StateFlow example of DESIGN §9, as written, with imports from `stateflow`.
 *
 *   npx tsx examples/uppercase.ts
 */
import { createStateFlowRuntime, createXSync, defineStep, defineWorkflow, detectLocalNode, flowRunView } from 'stateflow'

const demo = defineWorkflow({ id: "demo.uppercase", version: "1.0.0",
  steps: { uppercase: defineStep({ id: "uppercase", type: "text.uppercase",
    sideEffects: { kind: "pure", idempotencyRequired: false },
    claim: { mode: "optimistic-idempotent", duplicatePolicy: "first-valid-wins" } }) },
  links: [] })
const client = await createXSync({ views: { flowRun: flowRunView } })
const runtime = createStateFlowRuntime({ node: detectLocalNode({ id: "local" }) })
runtime.register("text.uppercase", async (_ctx, input: string) => input.toUpperCase())
const run = await runtime.start({ client, workflow: demo, input: "hello" })
for await (const snap of run.observe()) console.log(snap.status, snap.steps)

await runtime.close()
await client.close()
