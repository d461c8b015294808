/**
 * The workflow of the demo page (`stateflow serve`, `/demo/`): field notes captured in browser
 * tabs (offline too), summarized on a server, approved by a person in a tab, recorded on a server.
 *
 *   summarize ── approve ── record
 *   server       browser    server
 *
 * Browser-safe (the demo page bundles it): no zod, no Node modules.
 */
import { defineStep, defineWorkflow, link, type WorkflowDefinition } from '../../flow/define.js'
import type { Executor } from '../../flow/runtime.js'

/** The log every peer opens for captured notes, and the one that lists the runs started. */
export const NOTES_LOG = 'demo.notes'
export const RUNS_LOG = 'demo.runs'
export const NOTE = 'demo.note'
export const RUN_STARTED = 'demo.run'
/** The BroadcastChannel the tabs share. */
export const DEMO_CHANNEL = 'stateflow-demo'

export interface ApprovalInput {
  notes: { text: string; by: string }[]
}
export interface Summary {
  count: number
  authors: number
  text: string
}
export interface Decision {
  approved: boolean
  by: string
  comment: string
}

export const approvalWorkflow: WorkflowDefinition<ApprovalInput> = defineWorkflow({
  id: 'demo.field-approval',
  version: '1.0.0',
  steps: {
    summarize: defineStep({ id: 'summarize', type: 'demo.summarize', sideEffects: { kind: 'pure' }, claim: { mode: 'lease', ttlMs: 30_000 }, placement: { kinds: ['server'] } }),
    // A person decides: the lease is long (renewed while the form is open), and only a tab runs it.
    approve: defineStep({ id: 'approve', type: 'demo.approve', sideEffects: { kind: 'effectful', idempotencyRequired: true }, claim: { mode: 'lease', ttlMs: 120_000 }, placement: { kinds: ['browser'] } }),
    record: defineStep({ id: 'record', type: 'demo.record', sideEffects: { kind: 'effectful', idempotencyRequired: true }, claim: { mode: 'lease', ttlMs: 30_000 }, placement: { kinds: ['server'] } }),
  },
  links: [link('summarize', 'approve'), link('approve', 'record')],
})

/** The server steps: the Node peer registers these. */
export function serverExecutors(node: string): Record<string, Executor> {
  return {
    'demo.summarize': (_ctx, input: ApprovalInput): Summary => {
      const notes = Array.isArray(input?.notes) ? input.notes : []
      return { count: notes.length, authors: new Set(notes.map((n) => n.by)).size, text: notes.map((n) => `• ${n.text}`).join('\n') }
    },
    'demo.record': (_ctx, decision: Decision) => ({ recorded: true, on: node, approved: decision?.approved === true, by: decision?.by ?? null }),
  }
}
