/**
 * The `stateflow` command line, as a function: `run(argv, io)` parses, dispatches to a command
 * module and returns the exit code. `main.ts` only wires it to the process.
 *
 * Help: `stateflow --help`, `-h` or `help` lists the commands; `<command> --help`, `help
 * <command>` and `<group> --help` print that usage. Help goes to stdout with exit 0 and wins
 * over everything else on the line; usage errors go to stderr with exit 2.
 */
import { commandWords, parseFlags, positiveIntFlag, requireFlag, type FlagSpec } from './args.js'
import { auditExport } from './audit-export.js'
import { auditInspect } from './audit-inspect.js'
import { auditReplay } from './audit-replay.js'
import { auditVerify } from './audit-verify.js'
import { demo } from './demo.js'
import { flowCompile, flowDiff, flowFromXState, flowLint, flowMermaid } from './flow.js'
import { StateFlowError } from '../errors.js'
import { firstWords, groupCommands, helpText, helpTopic, mainUsage, orList, type GroupHelp } from './help.js'
import { EXIT_INTEGRITY, EXIT_OK, EXIT_USAGE, UsageError, usageExit, withoutCode, type Output } from './io.js'
import { PROGRESS_FLAGS, progressMode } from './progress.js'
import { SERVE_FLAGS, SERVE_SUMMARY, SERVE_USAGE } from './serve/usage.js'

interface Command {
  flags: FlagSpec
  /** Names of the positional arguments the command requires (none if absent). */
  args?: readonly string[]
  /** One line for `stateflow --help` and the group's help. */
  summary: string
  /** `stateflow <command> --help`: starts with `Usage: stateflow <command>`. */
  usage: string
  run(flags: Record<string, string | boolean | undefined>, io: Output, args: readonly string[]): Promise<number>
}

const str = (v: string | boolean | undefined): string | undefined => (typeof v === 'string' ? v : undefined)

const COMMANDS: Record<string, Command> = {
  demo: {
    flags: { dir: 'string', keep: 'boolean' },
    summary: 'a workflow on three peers over WebSocket, each with an SQLite store',
    usage: `Usage: stateflow demo [--dir <path>] [--keep]

Runs a workflow on three peers in this process: server-1 and server-2 (kind server) and
browser-1 (kind browser), each with its own SQLite store, connected over WebSocket on
127.0.0.1. The workflow digests a short text: a first step (tokenize), then five branches in
parallel under different claim modes (a lease, a deterministic election, an optimistic
idempotent step every peer may run, a step placed on the browser-kind node only, and a durable
1 s timer followed by a wait for the signal 'approve', which the demo sends from browser-1),
and a fan-in step (publish) on the authority server-1. The checksum step fails on its first
attempt on purpose and succeeds when retried 200 ms later.

Prints one line per step status change as server-1 sees it:
  +<seconds>s  <step>  <status>  attempt <n>  on <node>  <detail>
then a summary (run id, status, output, events, per step its node and attempts, elapsed time,
where the SQLite files are) and whether all three peers hold the same heads for the run's log.

  --dir <path>  put server-1.db, server-2.db and browser-1.db here (replaced on each run, kept
                afterwards)  [default: a fresh temp dir under the OS temp dir, removed at the end]
  --keep        keep the temp dir (to inspect it with 'stateflow audit')

Exit: 0 when the run completed and the three peers agree, 1 otherwise, 2 usage.`,
    run: (f, io) => demo({ ...(str(f.dir) !== undefined ? { dir: str(f.dir)! } : {}), keep: f.keep === true }, io),
  },
  serve: {
    flags: SERVE_FLAGS,
    summary: SERVE_SUMMARY,
    usage: SERVE_USAGE,
    run: async (f, io) => (await import('./serve/index.js')).serveFromFlags(f, io),
  },
  'audit verify': {
    flags: { store: 'string', log: 'string', json: 'boolean', strict: 'boolean', ...PROGRESS_FLAGS },
    summary: 're-check every hash, signature, chain, clock and membership; report forks',
    usage: `Usage: stateflow audit verify --store <path> [--log <id>] [--json] [--strict] [--[no-]progress]

Re-check every event of every log from its stored bytes: canonical decoding (DECODE), the CID
against the hash of the bytes (CID), the store's indexed fields (INDEX) and order (ORDER), links
present in the same log (MISSING, PARENT_LOG), the seq/prev chain (SEQ), clocks (CLOCK),
signatures or coverage by a later signature of the same author (SIGNATURE; a run of more than
256 unsigned events is an UNSIGNED_RUN warning), membership of log:<cid> logs in each event's
causal past (UNAUTHORIZED), and the store's heads, author tips and count (HEADS, TIPS, COUNT).
Forks (two events by one author at one seq) are listed as FORK with both CIDs. An fs store whose
last segment ends in a partial record (a write interrupted before it was acknowledged) gets a
TORN_TAIL warning. The store is opened read-only: the audit never changes it.

Prints one line per finding, '<log> <cid> <CODE> <message>', then a summary.

  --store <path>  a .db/.sqlite/.sqlite3 file (SQLite store) or a directory (fs store)
  --log <id>      check only this log
  --json          one JSON document instead of text
  --strict        exit 3 when forks are found (and nothing worse)
  --progress      a live event counter on stderr  [default: when stderr is a terminal]
  --no-progress   no counter

Exit: 0 clean, 1 integrity errors, 2 usage or missing store/log, 3 forks with --strict.`,
    run: (f, io) =>
      auditVerify(
        {
          store: requireFlag(f, 'store', 'stateflow audit verify'),
          ...(str(f.log) !== undefined ? { log: str(f.log)! } : {}),
          json: f.json === true,
          strict: f.strict === true,
          progress: progressMode(f),
        },
        io,
      ),
  },
  'audit inspect': {
    flags: { store: 'string', log: 'string', json: 'boolean', ...PROGRESS_FLAGS },
    summary: 'list logs, event counts, heads, authors and forks',
    usage: `Usage: stateflow audit inspect --store <path> [--log <id>] [--json] [--[no-]progress]

List each log of a store: event count, heads, authors (did, highest seq, event count), forks,
and for log:<cid> logs the policy, admins and writers. Checks nothing: see 'audit verify'.

  --store <path>  a .db/.sqlite/.sqlite3 file (SQLite store) or a directory (fs store)
  --log <id>      only this log
  --json          one JSON document instead of text
  --progress      a live event counter on stderr  [default: when stderr is a terminal]
  --no-progress   no counter

Exit: 0 listed, 2 usage or missing store/log.`,
    run: (f, io) =>
      auditInspect(
        {
          store: requireFlag(f, 'store', 'stateflow audit inspect'),
          ...(str(f.log) !== undefined ? { log: str(f.log)! } : {}),
          json: f.json === true,
          progress: progressMode(f),
        },
        io,
      ),
  },
  'audit export': {
    flags: { store: 'string', log: 'string', ...PROGRESS_FLAGS },
    summary: "write one log's events as JSON lines in total order",
    usage: `Usage: stateflow audit export --store <path> --log <id> [--[no-]progress]

Write every event of one log as JSON lines in total order (clock, CID bytes):
  { cid, log, author, seq, prev, parents, clock, time, type, body, sig, bytes }
CIDs are strings, author a did:key, sig and bytes standard base64 (sig null when a later
signature covers the event); body binary values are DAG-JSON {"/":{"bytes":"<base64>"}} and
links {"/":"<cid>"}.

  --store <path>  a .db/.sqlite/.sqlite3 file (SQLite store) or a directory (fs store)
  --log <id>      the log to export
  --progress      a live event counter on stderr  [default: when stderr is a terminal]
  --no-progress   no counter

Exit: 0 done, 1 some event did not decode, 2 usage or missing store/log.`,
    run: (f, io) =>
      auditExport({ store: requireFlag(f, 'store', 'stateflow audit export'), log: requireFlag(f, 'log', 'stateflow audit export'), progress: progressMode(f) }, io),
  },
  'audit replay': {
    flags: { store: 'string', run: 'string', json: 'boolean', every: 'string', ...PROGRESS_FLAGS },
    summary: "a run's state after each event of its log (time travel)",
    usage: `Usage: stateflow audit replay --store <path> --run <id> [--json] [--every <n>] [--[no-]progress]

Fold a workflow run's events one at a time, in the total order (clock, CID bytes), with the run
view every peer folds (step workflows and FlowState charts alike), and print after each event:
  #<index>  <log time>  <event type>  <author>
      <one line per change: the run's status, the chart's configuration, steps whose status,
       attempt or holder changed, each claim decision with its verdict and why, warnings>
Log time is the largest event time so far (UTC); an author is the end of its did:key, with the
node id it announced in the run. Events are read as stored: 'audit verify' checks them. The
store is opened read-only: replay never changes it.

  --store <path>  a .db/.sqlite/.sqlite3 file (SQLite store) or a directory (fs store)
  --run <id>      the run's id (its log's id)
  --json          one JSON object per line, { index, time, cid, type, author, changes, state },
                  with the whole state
  --every <n>     print after every n-th event and the last (changes since the line before)
  --progress      a live event counter on stderr  [default: when stderr is a terminal]
  --no-progress   no counter

Exit: 0 replayed, 1 an event does not decode, 2 usage, missing store or run, or a log that is
not a workflow run.`,
    run: (f, io) => {
      const command = 'stateflow audit replay'
      const every = positiveIntFlag(f, 'every', command)
      return auditReplay(
        { store: requireFlag(f, 'store', command), run: requireFlag(f, 'run', command), json: f.json === true, ...(every !== undefined ? { every } : {}), progress: progressMode(f) },
        io,
      )
    },
  },
  'flow lint': {
    flags: { json: 'boolean', strict: 'boolean' },
    args: ['file'],
    summary: 'check a FlowState definition: errors and canonical-shape warnings',
    usage: `Usage: stateflow flow lint <file> [--json] [--strict]

Check a FlowState definition: every error defineFlowState finds, and lint warnings for
alternatives to the canonical shape (SHORTHAND, REDUNDANT, GUARD_SHAPE, TARGET_SHAPE) and for
structure (UNREACHABLE states, DEAD_END states nothing leaves, invokes without onError:
UNHANDLED_ERROR). A document in canonical form has no shape warnings.

Prints one line per finding, '<path>: <severity> <CODE> <message>', the path into the
definition (states.a.on.GO[0].target).

  <file>    FlowState JSON (authoring or canonical form), or SCXML (.scxml, .xml)
  --json    one JSON document instead of text
  --strict  exit 1 on warnings too

Exit: 0 no errors (warnings alone), 1 errors (or warnings with --strict), or a file that is not
JSON/SCXML, 2 usage or unreadable file.`,
    run: (f, io, [file]) => flowLint({ file, json: f.json === true, strict: f.strict === true }, io),
  },
  'flow diff': {
    flags: { json: 'boolean' },
    args: ['a', 'b'],
    summary: 'the semantic changes between two definitions',
    usage: `Usage: stateflow flow diff <a> <b> [--json]

Compare two FlowState definitions by meaning, not text: both are defined first, so an
authoring form and its canonical form are equal. One line per change,
'<added|removed|changed> <flow|state|transition|action|invoke> <path>: <detail>'; transitions
are matched per (state, event) by target and guard, then by position; entry/exit actions as
sets of refs; invokes by id. No output when they are the same.

  <a> <b>  FlowState JSON (authoring or canonical form), or SCXML (.scxml, .xml)
  --json   one JSON document { a, b, changes } instead of text

Exit: 0 compared (also when there are changes), 1 a file is not a valid definition,
2 usage or unreadable file.`,
    run: (f, io, [a, b]) => flowDiff({ a, b, json: f.json === true }, io),
  },
  'flow compile': {
    flags: { to: 'string' },
    args: ['file'],
    summary: 'print a definition as an xState v5 config, SCXML or canonical JSON (--to)',
    usage: `Usage: stateflow flow compile <file> --to xstate|scxml|json

Print a FlowState definition as:
  xstate  the xState v5 machine config (JSON, functions left out; see flowStateMachine)
  scxml   W3C SCXML 1.0
  json    the canonical RFC 8785 JSON the registry signs

  <file>  FlowState JSON (authoring or canonical form), or SCXML (.scxml, .xml)

Exit: 0 printed, 1 not a valid definition (each issue on stderr with its path), 2 usage or
unreadable file.`,
    run: (f, io, [file]) => flowCompile({ file, to: requireFlag(f, 'to', 'stateflow flow compile') }, io),
  },
  'flow mermaid': {
    flags: {},
    args: ['file'],
    summary: 'print a definition as a Mermaid state diagram',
    usage: `Usage: stateflow flow mermaid <file>

Print a FlowState definition as a Mermaid stateDiagram-v2.

  <file>  FlowState JSON (authoring or canonical form), or SCXML (.scxml, .xml)

Exit: 0 printed, 1 not a valid definition (each issue on stderr with its path), 2 usage or
unreadable file.`,
    run: (_f, io, [file]) => flowMermaid({ file }, io),
  },
  'flow from-xstate': {
    flags: {},
    args: ['file'],
    summary: 'an xState v5 machine config (JSON) to FlowState canonical JSON',
    usage: `Usage: stateflow flow from-xstate <file>

Read an xState v5 machine config (JSON) and print the FlowState canonical JSON on stdout, with
one warning line per dropped feature on stderr ('<path>: warning <CODE> <message>', the path
into the xState config): context, assign, after, always, meta, inline functions, actions and
actors that are not action:<id>@<range> refs, guards outside the library.

Exit: 0 printed (also with warnings), 1 not JSON or what is left is not a valid flow, 2 usage
or unreadable file.`,
    run: (_f, io, [file]) => flowFromXState({ file }, io),
  },
}

/** Two-word command groups: what their commands take, for the group's usage line. */
const GROUPS: Record<string, GroupHelp> = {
  audit: { takes: '--store <path> [options]' },
  flow: { takes: '<file…> [options]' },
}

/** `stateflow --help`, derived from the table. */
export const USAGE = mainUsage(COMMANDS)

/** Run the CLI on `argv` (without node and the script). Resolves to the exit code. */
export async function run(argv: readonly string[], io: Output): Promise<number> {
  try {
    const { words, rest } = commandWords(argv)
    // `help [<command>]`, or -h/--help anywhere: help wins over whatever else the line holds.
    if (words[0] === 'help' || rest.includes('--help') || rest.includes('-h')) {
      const topic = words[0] === 'help' ? words.slice(1) : words
      if (words[0] === 'help') parseFlags(rest, {}, 'stateflow help')
      io.out(helpText(COMMANDS, GROUPS, helpTopic(COMMANDS, GROUPS, topic)))
      return EXIT_OK
    }
    if (words.length === 0) {
      parseFlags(rest, {}, 'stateflow')
      io.err(USAGE)
      return EXIT_USAGE
    }
    const group = GROUPS[words[0]] !== undefined ? words[0] : undefined
    if (group !== undefined && words.length === 1) {
      parseFlags(rest, {}, `stateflow ${group}`)
      throw new UsageError(`'stateflow ${group}' needs a command: ${orList(groupCommands(COMMANDS, group))} (see 'stateflow ${group} --help')`)
    }
    // One-word commands (demo) take no further words; a group's take one.
    const name = group !== undefined ? words.slice(0, 2).join(' ') : words[0]
    const command = COMMANDS[name]
    if (command === undefined) {
      const known = group !== undefined ? groupCommands(COMMANDS, group) : firstWords(COMMANDS)
      throw new UsageError(`unknown command '${group !== undefined ? name : words.join(' ')}': expected ${orList(known)} (see 'stateflow ${group ?? ''}${group !== undefined ? ' ' : ''}--help')`)
    }
    const used = name.split(' ').length
    const wanted = command.args ?? []
    if (wanted.length === 0 && words.length > used) throw new UsageError(`unexpected argument '${words[used]}' for 'stateflow ${name}' (see 'stateflow ${name} --help')`)
    // Positionals may come before or after the flags: `flow compile a.json --to json`, `--to json a.json`.
    const args = words.slice(used)
    const flags = parseFlags(rest, command.flags, `stateflow ${name}`, wanted.length > 0 ? args : undefined)
    if (args.length !== wanted.length) {
      const usage = `stateflow ${name} ${wanted.map((a) => `<${a}>`).join(' ')}`
      throw new UsageError(args.length < wanted.length ? `'stateflow ${name}' needs ${wanted.map((a) => `<${a}>`).join(' ')} (usage: ${usage})` : `unexpected argument '${args[wanted.length]}' for 'stateflow ${name}' (see 'stateflow ${name} --help')`)
    }
    return await command.run(flags, io, args)
  } catch (err) {
    // A store too damaged to open or read is an integrity finding, not a usage error.
    if (err instanceof StateFlowError && err.code === 'CORRUPT') {
      io.err(`stateflow: the store is corrupt: ${withoutCode(err)}`)
      return EXIT_INTEGRITY
    }
    return usageExit(err, io)
  }
}
