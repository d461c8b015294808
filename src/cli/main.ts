#!/usr/bin/env node
/**
 * The `stateflow` executable: wires `run` to the process. Output goes through `process.stdout`
 * and the exit code through `process.exitCode`, so pending writes flush before Node exits.
 */
import { run } from './run.js'

// `stateflow audit export … | head` closes the pipe early: stop quietly, as Unix tools do.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0)
  throw err
})

run(process.argv.slice(2), {
  out: (line) => void process.stdout.write(`${line}\n`),
  err: (line) => void process.stderr.write(`${line}\n`),
  errRaw: (text) => void process.stderr.write(text),
  errIsTTY: process.stderr.isTTY === true,
}).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    process.stderr.write(`stateflow: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
    process.exitCode = 1
  },
)
