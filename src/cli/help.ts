/**
 * Help texts derived from the command table, so a command added to it (run.ts) shows up in
 * `stateflow --help`, in its group's help and in "unknown command" messages without a second
 * list to keep in step:
 * - `stateflow --help`: every command, one line each;
 * - `stateflow audit --help`: the group's commands, one line each;
 * - `stateflow <command> --help`, `stateflow help <command>`: the command's own usage text.
 */
import { UsageError } from './io.js'

/** What help needs of a command. */
export interface CommandHelp {
  /** One line for command lists. */
  summary: string
  /** The whole usage text, first line `Usage: stateflow …`. */
  usage: string
}

/** A group of two-word commands (`audit verify`, `flow lint`): what follows the group word. */
export interface GroupHelp {
  /** What the group's commands take, for the group's usage line: `--store <path> [options]`. */
  takes: string
}

/** What `help <words>` (or `<words> --help`) names. */
export type HelpTopic = { kind: 'all' } | { kind: 'group'; name: string } | { kind: 'command'; name: string }

const EXIT_CODES = `Exit codes: 0 ok, 1 integrity problem found (or errors in a FlowState definition), 2 usage
error, missing store/log or unreadable file, 3 forks found with 'audit verify --strict'.`

/** Names of a group's commands, without the group word, in table order. */
export function groupCommands(commands: Readonly<Record<string, CommandHelp>>, group: string): string[] {
  return Object.keys(commands)
    .filter((n) => n.startsWith(`${group} `))
    .map((n) => n.slice(group.length + 1))
}

/** `a, b or c`, for messages. */
export function orList(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`
}

/** The commands a first word may start: one-word commands and groups, in table order. */
export function firstWords(commands: Readonly<Record<string, CommandHelp>>): string[] {
  return [...new Set(Object.keys(commands).map((n) => n.split(' ')[0]))]
}

function table(rows: readonly [string, string][]): string[] {
  const width = Math.max(...rows.map(([name]) => name.length))
  return rows.map(([name, summary]) => `  ${name.padEnd(width)}  ${summary}`)
}

/** `stateflow --help`. */
export function mainUsage(commands: Readonly<Record<string, CommandHelp>>): string {
  return [
    'Usage: stateflow <command> [options]',
    '',
    'Commands:',
    ...table(Object.entries(commands).map(([name, c]) => [name, c.summary])),
    '',
    "Run 'stateflow <command> --help' (or 'stateflow help <command>') for a command's options.",
    '',
    'Options:',
    '  -h, --help  show help: this list, or after a command its usage',
    '',
    EXIT_CODES,
  ].join('\n')
}

/** `stateflow <group> --help`. */
export function groupUsage(commands: Readonly<Record<string, CommandHelp>>, group: string, help: GroupHelp): string {
  const names = groupCommands(commands, group)
  return [
    `Usage: stateflow ${group} <${names.join('|')}> ${help.takes}`,
    '',
    ...table(names.map((n) => [n, commands[`${group} ${n}`].summary])),
    '',
    `Run 'stateflow ${group} <command> --help' for its options.`,
  ].join('\n')
}

/**
 * The topic `words` name: nothing (all), a group, or a command (extra words after it, such as
 * a file name before `--help`, are ignored). An unknown word is a `UsageError`.
 */
export function helpTopic(commands: Readonly<Record<string, CommandHelp>>, groups: Readonly<Record<string, GroupHelp>>, words: readonly string[]): HelpTopic {
  if (words.length === 0) return { kind: 'all' }
  if (commands[words[0]] !== undefined) return { kind: 'command', name: words[0] }
  if (groups[words[0]] === undefined) throw new UsageError(`unknown command '${words[0]}': expected ${orList(firstWords(commands))} (see 'stateflow --help')`)
  if (words.length === 1) return { kind: 'group', name: words[0] }
  const name = `${words[0]} ${words[1]}`
  if (commands[name] === undefined) throw new UsageError(`unknown command '${name}': expected ${orList(groupCommands(commands, words[0]))} (see 'stateflow ${words[0]} --help')`)
  return { kind: 'command', name }
}

/** The help text of a topic. */
export function helpText(commands: Readonly<Record<string, CommandHelp>>, groups: Readonly<Record<string, GroupHelp>>, topic: HelpTopic): string {
  if (topic.kind === 'all') return mainUsage(commands)
  if (topic.kind === 'group') return groupUsage(commands, topic.name, groups[topic.name])
  return commands[topic.name].usage
}
