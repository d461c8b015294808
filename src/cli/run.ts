/**
 * The `stateflow` command line, as a function: `run(argv, io)` parses, dispatches to a command
 * module and returns the exit code. `main.ts` only wires it to the process.
 */
import { commandWords, parseFlags, requireFlag, type FlagSpec } from './args.js'
import { auditExport } from './audit-export.js'
import { auditInspect } from './audit-inspect.js'
import { auditVerify } from './audit-verify.js'
import { demo } from './demo.js'
import { StateFlowError } from '../errors.js'
import { EXIT_INTEGRITY, EXIT_OK, EXIT_USAGE, UsageError, usageExit, withoutCode, type Output } from './io.js'

interface Command {
  flags: FlagSpec
  usage: string
  run(flags: Record<string, string | boolean | undefined>, io: Output): Promise<number>
}

const str = (v: string | boolean | undefined): string | undefined => (typeof v === 'string' ? v : undefined)

const COMMANDS: Record<string, Command> = {
  demo: {
    flags: { dir: 'string', keep: 'boolean' },
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
  'audit verify': {
    flags: { store: 'string', log: 'string', json: 'boolean', strict: 'boolean' },
    usage: `Usage: stateflow audit verify --store <path> [--log <id>] [--json] [--strict]

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

Exit: 0 clean, 1 integrity errors, 2 usage or missing store/log, 3 forks with --strict.`,
    run: (f, io) =>
      auditVerify(
        {
          store: requireFlag(f, 'store', 'stateflow audit verify'),
          ...(str(f.log) !== undefined ? { log: str(f.log)! } : {}),
          json: f.json === true,
          strict: f.strict === true,
        },
        io,
      ),
  },
  'audit inspect': {
    flags: { store: 'string', log: 'string', json: 'boolean' },
    usage: `Usage: stateflow audit inspect --store <path> [--log <id>] [--json]

List each log of a store: event count, heads, authors (did, highest seq, event count), forks,
and for log:<cid> logs the policy, admins and writers. Checks nothing: see 'audit verify'.

  --store <path>  a .db/.sqlite/.sqlite3 file (SQLite store) or a directory (fs store)
  --log <id>      only this log
  --json          one JSON document instead of text`,
    run: (f, io) =>
      auditInspect(
        { store: requireFlag(f, 'store', 'stateflow audit inspect'), ...(str(f.log) !== undefined ? { log: str(f.log)! } : {}), json: f.json === true },
        io,
      ),
  },
  'audit export': {
    flags: { store: 'string', log: 'string' },
    usage: `Usage: stateflow audit export --store <path> --log <id>

Write every event of one log as JSON lines in total order (clock, CID bytes):
  { cid, log, author, seq, prev, parents, clock, time, type, body, sig, bytes }
CIDs are strings, author a did:key, sig and bytes standard base64 (sig null when a later
signature covers the event); body binary values are DAG-JSON {"/":{"bytes":"<base64>"}} and
links {"/":"<cid>"}.

  --store <path>  a .db/.sqlite/.sqlite3 file (SQLite store) or a directory (fs store)
  --log <id>      the log to export

Exit: 0 done, 1 some event did not decode, 2 usage or missing store/log.`,
    run: (f, io) => auditExport({ store: requireFlag(f, 'store', 'stateflow audit export'), log: requireFlag(f, 'log', 'stateflow audit export') }, io),
  },
}

const AUDIT_USAGE = `Usage: stateflow audit <verify|inspect|export> --store <path> [options]

  verify   re-check every hash, signature, chain, clock and membership; report forks
  inspect  list logs, event counts, heads, authors and forks
  export   write one log's events as JSON lines in total order

Run 'stateflow audit <command> --help' for its options.`

export const USAGE = `Usage: stateflow <command> [options]

Commands:
  demo           [--dir <path>] [--keep]   a workflow on three peers over WebSocket, SQLite files
  audit verify   --store <path> [--log <id>] [--json] [--strict]
  audit inspect  --store <path> [--log <id>] [--json]
  audit export   --store <path> --log <id>

Options:
  -h, --help     show help (also after a command)

Exit codes: 0 ok, 1 integrity problem found, 2 usage error or missing store/log,
3 forks found with 'audit verify --strict'.`

/** Run the CLI on `argv` (without node and the script). Resolves to the exit code. */
export async function run(argv: readonly string[], io: Output): Promise<number> {
  try {
    const { words, rest } = commandWords(argv)
    if (words.length === 0 || (words.length === 1 && words[0] === 'help')) {
      parseFlags(rest, {}, 'stateflow')
      if (words.length === 0 && rest.length === 0) {
        io.err(USAGE)
        return EXIT_USAGE
      }
      io.out(USAGE)
      return EXIT_OK
    }
    if (words[0] === 'audit' && words.length === 1) {
      const flags = parseFlags(rest, {}, 'stateflow audit')
      if (flags.help) {
        io.out(AUDIT_USAGE)
        return EXIT_OK
      }
      throw new UsageError(`'stateflow audit' needs a command: verify, inspect or export (see 'stateflow audit --help')`)
    }
    // One-word commands (demo) take no further words; audit's take one.
    const name = words[0] === 'audit' ? words.slice(0, 2).join(' ') : words[0]
    const command = COMMANDS[name]
    if (command === undefined) {
      const known = words[0] === 'audit' ? 'verify, inspect or export' : 'demo or audit'
      throw new UsageError(`unknown command '${words.join(' ')}': expected ${known} (see 'stateflow --help')`)
    }
    const used = name.split(' ').length
    if (words.length > used) throw new UsageError(`unexpected argument '${words[used]}' for 'stateflow ${name}' (see 'stateflow ${name} --help')`)
    const flags = parseFlags(rest, command.flags, `stateflow ${name}`)
    if (flags.help) {
      io.out(command.usage)
      return EXIT_OK
    }
    return await command.run(flags, io)
  } catch (err) {
    // A store too damaged to open or read is an integrity finding, not a usage error.
    if (err instanceof StateFlowError && err.code === 'CORRUPT') {
      io.err(`stateflow: the store is corrupt: ${withoutCode(err)}`)
      return EXIT_INTEGRITY
    }
    return usageExit(err, io)
  }
}
