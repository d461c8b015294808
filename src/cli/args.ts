/**
 * A small argv parser: `<words…> [--flag value | --flag=value | --switch]…`. Command words come
 * first; each command declares its flags, and anything undeclared is a `UsageError` (exit 2).
 * Hand-written on purpose: the CLI adds no dependencies.
 */
import { UsageError } from './io.js'

export type FlagKind = 'string' | 'boolean'
export type FlagSpec = Readonly<Record<string, FlagKind>>
export type Flags = Record<string, string | boolean | undefined>

/** Split argv into the leading command words and the rest. */
export function commandWords(argv: readonly string[]): { words: string[]; rest: string[] } {
  let i = 0
  while (i < argv.length && !argv[i].startsWith('-')) i++
  return { words: argv.slice(0, i), rest: argv.slice(i) }
}

/**
 * Parse flags against a spec. `-h` is `--help`. A bare `--` is an error, and so is a positional
 * unless the command takes them: then they are appended to `positionals`, in order.
 */
export function parseFlags(args: readonly string[], spec: FlagSpec, command: string, positionals?: string[]): Flags {
  const flags: Flags = {}
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]
    if (arg === '-h') {
      flags.help = true
      continue
    }
    if (positionals && !arg.startsWith('-')) {
      positionals.push(arg)
      continue
    }
    if (!arg.startsWith('--') || arg === '--') {
      throw new UsageError(`unexpected argument '${arg}' for '${command}' (see '${command} --help')`)
    }
    const eq = arg.indexOf('=')
    const name = arg.slice(2, eq < 0 ? undefined : eq)
    const kind = name === 'help' ? 'boolean' : spec[name]
    if (kind === undefined) throw new UsageError(`unknown flag '--${name}' for '${command}' (see '${command} --help')`)
    if (kind === 'boolean') {
      if (eq >= 0) throw new UsageError(`flag '--${name}' takes no value`)
      flags[name] = true
      continue
    }
    let value: string | undefined
    if (eq >= 0) value = arg.slice(eq + 1)
    else if (i + 1 < args.length && !args[i + 1].startsWith('--')) value = args[++i]
    if (value === undefined || value === '') throw new UsageError(`flag '--${name}' needs a value`)
    if (flags[name] !== undefined) throw new UsageError(`flag '--${name}' given twice`)
    flags[name] = value
  }
  return flags
}

/** A string flag the command cannot do without. */
export function requireFlag(flags: Flags, name: string, command: string): string {
  const v = flags[name]
  if (typeof v !== 'string') throw new UsageError(`'${command}' needs --${name} <value> (see '${command} --help')`)
  return v
}

/** An optional flag that must be a whole number from 1 (`--every 10`). */
export function positiveIntFlag(flags: Flags, name: string, command: string): number | undefined {
  const v = flags[name]
  if (v === undefined) return undefined
  const n = typeof v === 'string' && /^[1-9]\d{0,15}$/.test(v) ? Number(v) : NaN
  if (!Number.isSafeInteger(n)) throw new UsageError(`'${command}': --${name} needs a whole number from 1, not ${JSON.stringify(v)} (see '${command} --help')`)
  return n
}
