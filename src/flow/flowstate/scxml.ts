/**
 * FlowState ⇄ W3C SCXML 1.0. `toScxml` writes a document any SCXML tool can read;
 * `fromScxml` reads one back (ours losslessly, others with a warning, at an XML path, for each
 * thing FlowState drops). FlowState → SCXML → FlowState is the identity on canonical JSON.
 *
 * - `scxml-write.ts`: FlowState → SCXML (`toScxml`), and how FlowState maps to SCXML.
 * - `scxml-read.ts`: SCXML → FlowState (`fromScxml`), and what reading other SCXML changes or drops;
 *   `scxml-read-tree.ts` (pass 1: states, ids, targets), `scxml-read-group.ts` (transition order).
 * - `scxml-cond.ts`: guards as `cond` expressions (`guardToCond` / `condToGuard`).
 * - `scxml-events.ts`: event descriptor order, shared by both directions; `scxml-ns.ts`: namespaces.
 */
export { SCXML_NS, FLOWSTATE_NS, FLOWSTATE_INVOKE_TYPE } from './scxml-ns.js'
export { guardToCond, condToGuard } from './scxml-cond.js'
export { toScxml } from './scxml-write.js'
export { fromScxml, type FromScxmlOptions, type FromScxmlResult } from './scxml-read.js'
