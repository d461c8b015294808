/**
 * `stateflow flow lint|diff|compile|mermaid|from-xstate`: FlowState files on the command line.
 *
 * Input is FlowState JSON (authoring or canonical form); lint, diff, compile and mermaid also read
 * `.scxml`/`.xml` through `fromScxml`. A file that cannot be read is a usage error (exit 2); one
 * that is not JSON/XML or not a valid definition is a finding (exit 1), printed as
 * `<path>: error <CODE> <message>` with the path into the definition.
 */
import { readFileSync } from 'node:fs'
import { extname } from 'node:path'
import { DefinitionError } from '../flow/errors.js'
import { defineFlowState, type FlowStateDefinition } from '../flow/flowstate/define.js'
import { diffFlowState } from '../flow/flowstate/diff.js'
import { fromXState } from '../flow/flowstate/from-xstate.js'
import { FlowStateDefinitionError } from '../flow/flowstate/issues.js'
import { lintFlowState } from '../flow/flowstate/lint.js'
import { toMermaid } from '../flow/flowstate/mermaid.js'
import { fromScxml, toScxml } from '../flow/flowstate/scxml.js'
import { toXStateConfig } from '../flow/flowstate/to-xstate.js'
import type { FlowStateIssue } from '../flow/flowstate/types.js'
import { EXIT_INTEGRITY, EXIT_OK, UsageError, type Output } from './io.js'

/** Exit 1: the definition has errors (or lint warnings with --strict). */
export const EXIT_FINDINGS = EXIT_INTEGRITY

export const COMPILE_TARGETS = ['xstate', 'scxml', 'json'] as const
export type CompileTarget = (typeof COMPILE_TARGETS)[number]

/** A file that was read but holds no valid definition: its issues, each at a path. Exit 1. */
export class FlowFileError extends DefinitionError {
  constructor(
    readonly file: string,
    readonly issues: readonly FlowStateIssue[],
  ) {
    super(`${file}: not a valid FlowState definition (${issues.filter((i) => i.severity === 'error').length} errors)`)
    this.name = 'FlowFileError'
  }
}

/** One finding, as every flow command prints it. */
export function issueLine(i: FlowStateIssue): string {
  return `${i.path || '(document)'}: ${i.severity} ${i.code} ${i.message}`
}

type Loaded = { kind: 'json'; value: unknown } | { kind: 'scxml'; definition: FlowStateDefinition; warnings: FlowStateIssue[] }

const isXml = (file: string): boolean => ['.scxml', '.xml'].includes(extname(file).toLowerCase())

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'a directory, not a file' : e.code === 'EACCES' ? 'permission denied' : e.message
    throw new UsageError(`cannot read ${file}: ${why}`)
  }
}

function readJson(file: string): unknown {
  const text = readText(file)
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new FlowFileError(file, [{ code: 'INVALID', severity: 'error', path: '', message: `not JSON: ${(err as Error).message}` }])
  }
}

function load(file: string, xml: boolean): Loaded {
  if (!(xml && isXml(file))) return { kind: 'json', value: readJson(file) }
  const text = readText(file)
  try {
    const r = fromScxml(text)
    return { kind: 'scxml', definition: r.definition, warnings: r.warnings }
  } catch (err) {
    if (err instanceof FlowStateDefinitionError) throw new FlowFileError(file, err.issues)
    throw err
  }
}

function define(file: string): FlowStateDefinition {
  const loaded = load(file, true)
  if (loaded.kind === 'scxml') return loaded.definition
  try {
    return defineFlowState(loaded.value as never)
  } catch (err) {
    if (err instanceof FlowStateDefinitionError) throw new FlowFileError(file, err.issues)
    throw err
  }
}

/** Run a command; a file without a valid definition prints its issues to stderr, exit 1. */
async function findings(io: Output, body: () => number): Promise<number> {
  try {
    return body()
  } catch (err) {
    if (!(err instanceof FlowFileError)) throw err
    io.err(`stateflow: ${err.file}: not a valid FlowState definition`)
    for (const i of err.issues) io.err(issueLine(i))
    return EXIT_FINDINGS
  }
}

export interface FlowLintOptions {
  file: string
  json: boolean
  strict: boolean
}

export function flowLint(o: FlowLintOptions, io: Output): Promise<number> {
  let issues: FlowStateIssue[]
  try {
    const loaded = load(o.file, true)
    issues = loaded.kind === 'json' ? lintFlowState(loaded.value).issues : [...loaded.warnings, ...lintFlowState(loaded.definition.canonical).issues]
  } catch (err) {
    // For lint, an unparseable or invalid file is its findings, on stdout like any others.
    if (!(err instanceof FlowFileError)) throw err
    issues = [...err.issues]
  }
  const errors = issues.filter((i) => i.severity === 'error').length
  const warnings = issues.length - errors
  const code = errors > 0 || (o.strict && warnings > 0) ? EXIT_FINDINGS : EXIT_OK
  if (o.json) io.out(JSON.stringify({ file: o.file, ok: code === EXIT_OK, exitCode: code, errors, warnings, issues }, null, 2))
  else for (const i of issues) io.out(issueLine(i))
  return Promise.resolve(code)
}

export function flowDiff(o: { a: string; b: string; json: boolean }, io: Output): Promise<number> {
  return findings(io, () => {
    const { changes } = diffFlowState(define(o.a), define(o.b))
    if (o.json) io.out(JSON.stringify({ a: o.a, b: o.b, changes }, null, 2))
    else for (const c of changes) io.out(`${c.change} ${c.kind} ${c.path}: ${c.detail}`)
    return EXIT_OK
  })
}

export function flowCompile(o: { file: string; to: string }, io: Output): Promise<number> {
  if (!(COMPILE_TARGETS as readonly string[]).includes(o.to)) throw new UsageError(`--to is one of ${COMPILE_TARGETS.join(', ')}, not '${o.to}'`)
  return findings(io, () => {
    const def = define(o.file)
    const to = o.to as CompileTarget
    io.out(to === 'json' ? def.json : to === 'xstate' ? JSON.stringify(toXStateConfig(def), null, 2) : toScxml(def).replace(/\n$/, ''))
    return EXIT_OK
  })
}

export function flowMermaid(o: { file: string }, io: Output): Promise<number> {
  return findings(io, () => {
    io.out(toMermaid(define(o.file)).replace(/\n$/, ''))
    return EXIT_OK
  })
}

export function flowFromXState(o: { file: string }, io: Output): Promise<number> {
  return findings(io, () => {
    const config = readJson(o.file)
    if (typeof config !== 'object' || config === null || Array.isArray(config)) {
      throw new FlowFileError(o.file, [{ code: 'INVALID', severity: 'error', path: '', message: 'an xState machine config is a JSON object' }])
    }
    let r: ReturnType<typeof fromXState>
    try {
      r = fromXState(config as Record<string, unknown>)
    } catch (err) {
      if (err instanceof FlowStateDefinitionError) throw new FlowFileError(o.file, err.issues)
      throw err
    }
    io.out(r.definition.json)
    for (const w of r.warnings) io.err(issueLine(w))
    return EXIT_OK
  })
}
