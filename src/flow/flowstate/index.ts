/**
 * FlowState (DESIGN §10): the flow-only subset of xState v5 as plain, signed-and-hashed JSON.
 *
 * - `defineFlowState(doc)` checks a document (every issue with a path and a code) and gives its
 *   canonical form, RFC 8785 JSON and `sha256:` hash; the result is registry.publish's document form.
 * - `toXStateConfig` / `fromXState`: the xState v5 machine config codec (fromXState warns per
 *   dropped feature); `flowStateMachine` gives a runnable machine (imports xstate).
 * - `toMermaid`: a `stateDiagram-v2` rendering.
 * - `toScxml` / `fromScxml`: the W3C SCXML 1.0 codec (fromScxml warns, at an XML path, per
 *   dropped feature); guards travel as `cond` expressions (`guardToCond` / `condToGuard`).
 * - `evaluateGuard` / `evaluateBindings`: the pure guard library and bindings over run state.
 *
 * @example
 * import { defineFlowState, flowStateMachine } from 'stateflow/flowstate'
 * import { initialTransition, transition } from 'xstate'
 * const door = defineFlowState({ id: 'door', version: '1.0.0', initial: 'closed', states: {
 *   closed: { on: { OPEN: { target: 'open', guard: { type: 'equals', path: '$.input.locked', value: false } } } },
 *   open: { on: { CLOSE: 'closed' } } } })
 * const machine = flowStateMachine(door)
 * const [s0] = initialTransition(machine, { locked: false })
 * transition(machine, s0, { type: 'OPEN' })[0].value // 'open'
 */
export {
  defineFlowState,
  safeDefineFlowState,
  isFlowState,
  refProblem,
  type FlowStateDefinition,
  type FlowStateInit,
  type StateInit,
  type InvokeInit,
  type TransitionInit,
  type TransitionsInit,
  type SafeDefineResult,
} from './define.js'
export { FlowStateDefinitionError } from './issues.js'
export { evaluateGuard, describeGuard, patternProblem } from './guards.js'
export { evaluateBindings, readPath, parsePath, type RunScope } from './bindings.js'
export { toXStateConfig, INVOKE_META, FLOWSTATE_META, type XStateConfig } from './to-xstate.js'
export { fromXState, type FromXStateOptions, type FromXStateResult } from './from-xstate.js'
export { flowStateMachine, RECORD_OUTPUT, type FlowStateMachineOptions, type FlowStateContext } from './machine.js'
export { toMermaid } from './mermaid.js'
export { lintFlowState, type LintResult } from './lint.js'
export { diffFlowState, type FlowStateChange, type FlowStateChangeKind, type FlowStateDiff, type FlowStateDiffInput } from './diff.js'
export { flowStateEngine } from './engine.js'
export {
  toScxml,
  fromScxml,
  guardToCond,
  condToGuard,
  SCXML_NS,
  FLOWSTATE_NS,
  FLOWSTATE_INVOKE_TYPE,
  type FromScxmlOptions,
  type FromScxmlResult,
} from './scxml.js'
export { MAX_XML_LENGTH, MAX_XML_DEPTH } from './xml.js'
export {
  FLOWSTATE_FORMAT,
  FLOWSTATE_VERSION,
  GUARD_TYPES,
  MAX_STATES,
  MAX_DEPTH,
  MAX_GUARD_DEPTH,
  MAX_PATH_LENGTH,
  MAX_PATTERN_LENGTH,
  MAX_MATCH_SUBJECT,
  MAX_DOCUMENT_BYTES,
  type FlowStateDocument,
  type FlowStateNode,
  type FlowStateIssue,
  type IssueCode,
  type Transition,
  type Invoke,
  type Guard,
  type GuardType,
  type Bindings,
  type Binding,
  type ActionRef,
  type Ref,
  type Path,
  type Exposure,
  type StateType,
  type Json,
} from './types.js'
