/**
 * Issues and the error that carries them. Validation finds every problem in one pass (zod's
 * `$ZodIssue` model): `safeDefineFlowState` returns them, `defineFlowState` throws them as one
 * `DefinitionError` (code `DEFINITION`) whose `issues` list them all.
 */
import { DefinitionError } from '../errors.js'
import type { FlowStateIssue, IssueCode } from './types.js'

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/

/** `base.key`, or `base["key"]` when the key is not an identifier; `key` alone at the top. */
export function pathAt(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`
  if (IDENT.test(key)) return base === '' ? key : `${base}.${key}`
  return `${base}[${JSON.stringify(key)}]`
}

/** Collects issues; `error` and `warn` record one each. */
export class IssueList {
  readonly items: FlowStateIssue[] = []
  error(code: IssueCode, path: string, message: string): void {
    this.items.push(Object.freeze({ code, severity: 'error', path, message }))
  }
  warn(code: IssueCode, path: string, message: string): void {
    this.items.push(Object.freeze({ code, severity: 'warning', path, message }))
  }
  get errors(): FlowStateIssue[] {
    return this.items.filter((i) => i.severity === 'error')
  }
  get warnings(): FlowStateIssue[] {
    return this.items.filter((i) => i.severity === 'warning')
  }
}

/** A FlowState document that cannot be defined; `issues` holds every problem found. */
export class FlowStateDefinitionError extends DefinitionError {
  readonly issues: readonly FlowStateIssue[]
  constructor(id: string, issues: readonly FlowStateIssue[]) {
    const shown = issues.slice(0, 5).map((i) => `${i.path || '(document)'}: ${i.message} [${i.code}]`)
    const more = issues.length > 5 ? `; and ${issues.length - 5} more` : ''
    super(`flowstate ${id}: ${shown.join('; ')}${more}`)
    this.name = 'FlowStateDefinitionError'
    this.issues = Object.freeze([...issues])
  }
}
