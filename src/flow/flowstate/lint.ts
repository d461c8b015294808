/**
 * `lintFlowState`: `safeDefineFlowState`'s errors and warnings, plus lint warnings on a valid
 * document. The principle: one canonical shape per pattern, warn on the alternatives; a document
 * in canonical form (`defineFlowState(x).canonical`) has no `SHORTHAND`, `REDUNDANT` or
 * list-of-one `TARGET_SHAPE` warnings.
 *
 * - `SHORTHAND`: a transition as a target string, one transition/action/invoke/tag not in a
 *   list, an implicit `type` (states and root), `history` or `flowstate`.
 * - `REDUNDANT`: `reenter: false`, empty lists, `{ action }` without input, empty `flags`, a
 *   self-target without reenter on an atomic state (it exits and enters nothing).
 * - `GUARD_SHAPE`: `and`/`or` of one guard, nested same-kind `and`/`or`, `not` of `not`,
 *   `oneOf` of one value (→ `equals`), an `or` of `equals` on one path (→ `oneOf`).
 * - `TARGET_SHAPE`: `#id` naming a sibling (→ its key), a list of one target.
 * - `UNREACHABLE`, `DEAD_END`, `UNHANDLED_ERROR`: see `lint-reach.ts`.
 *
 * Lint warnings need a valid document: when it has errors, those are all that is reported.
 */
import { isFlowState, safeDefineFlowState, type FlowStateInit } from './define.js'
import { IssueList } from './issues.js'
import { lintReach } from './lint-reach.js'
import { lintTransitions } from './lint-rules.js'
import { lintShape } from './lint-shape.js'
import { stateTree } from './tree.js'
import type { FlowStateIssue } from './types.js'

export interface LintResult {
  /** Definition errors and warnings first, then lint warnings. */
  issues: FlowStateIssue[]
}

/** Lint a FlowState document (authoring or canonical form), or a definition (its canonical form). */
export function lintFlowState(input: unknown): LintResult {
  if (isFlowState(input)) return lintFlowState(input.canonical)
  const r = safeDefineFlowState(input as FlowStateInit)
  if (!r.success) return { issues: r.issues }
  const issues = new IssueList()
  lintShape(input as Record<string, unknown>, r.data.canonical, issues)
  const tree = stateTree(r.data.canonical)
  lintTransitions(tree, issues)
  lintReach(tree, issues)
  return { issues: [...r.warnings, ...issues.items] }
}
