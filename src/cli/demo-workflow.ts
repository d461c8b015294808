/**
 * The workflow `stateflow demo` runs: a text digest, small enough to read in one screen, that
 * uses every kind of step the engine has.
 *
 *   tokenize ─┬─ frequencies   lease, servers only
 *             ├─ checksum      deterministic election; its first attempt fails, the retry succeeds
 *             ├─ stats         optimistic-idempotent: every peer may run it, the first result wins
 *             ├─ preview       lease, browser-kind nodes only
 *             └─ cool-off ── approval      a durable 1 s timer, then a wait for the signal `approve`
 *   all five ──── publish      fan-in, on the authority server-1
 *
 * Every executor does its work for real (words, counts, a SHA-256); only checksum's first failure
 * is staged. The executors are the same on every peer: where each step runs is decided by the
 * claims and placements in the run's log.
 */
import { createHash } from 'node:crypto'
import { z } from 'zod'
import { defineStep, defineWorkflow, link, sleep, waitForSignal, type StepInit, type WorkflowDefinition } from '../flow/define.js'
import type { Executor } from '../flow/runtime.js'

/** The demo's input: the first stanza of Emily Dickinson's "Hope" is the thing with feathers (1891). */
export const DEMO_TEXT = ['Hope is the thing with feathers', 'That perches in the soul,', 'And sings the tune without the words,', 'And never stops at all,'].join('\n')

/** The node ids of the three peers, as the workflow's placements and authority name them. */
export const DEMO_NODES = { server1: 'server-1', server2: 'server-2', browser: 'browser-1' } as const

export const SIGNAL_NAME = 'approve'
export const SLEEP_MS = 1000
export const RETRY_MS = 200

export interface Tokens {
  firstLine: string
  lines: number
  words: string[]
}

const approvalSchema = z.object({ by: z.string().min(1), note: z.string().optional() })
export type Approval = z.infer<typeof approvalSchema>

const step = (id: string, init: Omit<StepInit, 'id' | 'type'>) => defineStep({ id, type: `demo.${id}`, ...init })
const servers = { kinds: ['server' as const] }

export const demoWorkflow: WorkflowDefinition<string> = defineWorkflow({
  id: 'demo.text-digest',
  version: '1.0.0',
  input: z.string().min(1),
  steps: {
    tokenize: step('tokenize', { sideEffects: { kind: 'pure' }, claim: { mode: 'lease', ttlMs: 30_000 }, placement: servers }),
    frequencies: step('frequencies', { sideEffects: { kind: 'pure' }, claim: { mode: 'lease', ttlMs: 30_000 }, placement: servers }),
    checksum: step('checksum', {
      sideEffects: { kind: 'effectful', idempotencyRequired: true },
      claim: { mode: 'deterministic-election', timeoutMs: 5000 },
      retry: { maxAttempts: 3, initialIntervalMs: RETRY_MS, backoffCoefficient: 2, jitter: 0 },
    }),
    stats: step('stats', { sideEffects: { kind: 'pure' }, claim: { mode: 'optimistic-idempotent', duplicatePolicy: 'first-valid-wins' } }),
    preview: step('preview', { sideEffects: { kind: 'pure' }, claim: { mode: 'lease', ttlMs: 30_000 }, placement: { kinds: ['browser'] } }),
    'cool-off': sleep('cool-off', SLEEP_MS),
    approval: waitForSignal('approval', SIGNAL_NAME, { schema: approvalSchema, timeoutMs: 60_000 }),
    publish: step('publish', { sideEffects: { kind: 'effectful' }, claim: { mode: 'authority', authority: DEMO_NODES.server1 } }),
  },
  links: [
    link('tokenize', 'frequencies', { map: (t: Tokens) => t.words }),
    link('tokenize', 'checksum', { map: (t: Tokens) => t.words }),
    link('tokenize', 'stats', { map: (t: Tokens) => t.words }),
    link('tokenize', 'preview', { map: (t: Tokens) => t.firstLine }),
    link('tokenize', 'cool-off', { map: (t: Tokens) => t.lines }),
    link('cool-off', 'approval'),
    link('frequencies', 'publish'),
    link('checksum', 'publish'),
    link('stats', 'publish'),
    link('preview', 'publish'),
    link('approval', 'publish'),
  ],
})

/** What each step is for, in the words the demo prints. */
export const STEP_NOTES: Record<string, string> = {
  tokenize: 'split the text into lines and words',
  frequencies: 'the three most frequent words',
  checksum: `SHA-256 of the words (attempt 1 fails on purpose; retried after ${RETRY_MS} ms)`,
  stats: 'word count, distinct words, average and longest word',
  preview: 'a title-cased headline from the first line',
  'cool-off': `a durable ${SLEEP_MS} ms timer any peer may fire`,
  approval: `waits for the signal '${SIGNAL_NAME}' (the demo sends it from ${DEMO_NODES.browser})`,
  publish: 'joins the five results into the digest',
}

const SMALL = new Set(['a', 'an', 'and', 'at', 'in', 'of', 'on', 'the', 'to', 'with'])

export interface Digest {
  title: string
  words: number
  distinct: number
  top: string
  checksum: string
  longest: string
  approvedBy: string
  publishedOn: string
}

/** The executors, by step type: register them on every peer. */
export function demoExecutors(): Record<string, Executor> {
  return {
    'demo.tokenize': (_ctx, text: string): Tokens => {
      const lines = text.split('\n').filter((l) => l.trim().length > 0)
      return { firstLine: lines[0] ?? '', lines: lines.length, words: text.toLowerCase().match(/[a-z']+/g) ?? [] }
    },
    'demo.frequencies': (_ctx, words: string[]) => {
      const counts = new Map<string, number>()
      for (const w of words) counts.set(w, (counts.get(w) ?? 0) + 1)
      return [...counts]
        .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
        .slice(0, 3)
        .map(([word, count]) => ({ word, count }))
    },
    'demo.checksum': (ctx, words: string[]) => {
      // The staged failure: a flaky dependency that answers on the second try.
      if (ctx.attempt === 1) throw new Error('checksum service unavailable (staged failure of attempt 1)')
      return createHash('sha256').update(words.join(' ')).digest('hex').slice(0, 16)
    },
    'demo.stats': (_ctx, words: string[]) => {
      const longest = words.reduce((best, w) => (w.length > best.length ? w : best), '')
      const average = words.length === 0 ? 0 : words.reduce((n, w) => n + w.length, 0) / words.length
      return { words: words.length, distinct: new Set(words).size, averageLength: Math.round(average * 100) / 100, longest }
    },
    'demo.preview': (_ctx, line: string) =>
      line
        .replace(/[^\p{L}\p{N}' ]/gu, '')
        .split(/\s+/)
        .filter(Boolean)
        .map((w, i) => (i > 0 && SMALL.has(w.toLowerCase()) ? w.toLowerCase() : w[0].toUpperCase() + w.slice(1).toLowerCase()))
        .join(' '),
    'demo.publish': (ctx, all: { frequencies: { word: string; count: number }[]; checksum: string; stats: { words: number; distinct: number; longest: string }; preview: string; approval: Approval }): Digest => ({
      title: all.preview,
      words: all.stats.words,
      distinct: all.stats.distinct,
      top: all.frequencies.map((f) => `${f.word} x${f.count}`).join(', '),
      checksum: all.checksum,
      longest: all.stats.longest,
      approvedBy: all.approval.by,
      publishedOn: ctx.node.id,
    }),
  }
}
