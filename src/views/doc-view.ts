/**
 * `docView`: Automerge documents carried in a log (DESIGN §7). Each `xsync.doc.change` event holds
 * Automerge change bytes for one document; the view applies them, so every peer holding the same
 * events holds the same documents. Automerge merges are order-independent, so a reorder costs
 * nothing: the fold result depends on the set of events, not on the order they arrived in.
 *
 * Browser-safe; it is its own entry (`stateflow/docs`) so Automerge's 3.6 MB of wasm never enters
 * the main bundle.
 *
 * @example
 * const view = docView()
 * // state: the view host's current state of `view`
 * await changeDoc(log, 'todo', readDoc(state, 'todo'), (d: { items: string[] }) => { d.items ??= []; d.items.push('milk') })
 */
// `/slim` plus the base64 wasm: the package's default entry resolves, under the `browser`
// condition, to a build that imports `.wasm` as an ES module, which needs a bundler plugin.
// This pair works unchanged in Node, browsers, esbuild, Vite and webpack.
import * as Automerge from '@automerge/automerge/slim'
import { automergeWasmBase64 } from '@automerge/automerge/automerge.wasm.base64'
import * as dagCbor from '@ipld/dag-cbor'
import { InvalidArgumentError } from '../errors.js'
import { DecodeError } from '../log/errors.js'
import type { Log, LogEvent } from '../log/log.js'
import type { View } from './view.js'

// Top-level await: `reduce` is synchronous, so the wasm must be ready before this module's
// exports can be used. Skipped when another entry of the package (say `@automerge/automerge`
// in Node) already initialized it; the two share one API table.
if (!Automerge.isWasmInitialized()) await Automerge.initializeWasm(base64Bytes(automergeWasmBase64))

export { Automerge }

/** The event type of a document change. */
import { DOC_CHANGE } from './event-types.js'
export { DOC_CHANGE }
/** A doc id is a non-empty string of at most this many UTF-8 bytes. */
export const MAX_DOC_ID_BYTES = 256

export interface DocChangeBody {
  doc: string
  /** Automerge change bytes (`Automerge.getChanges`, `getLastLocalChange`). */
  changes: Uint8Array[]
}

interface PendingChange {
  bytes: Uint8Array
  deps: string[]
}

export interface DocsState {
  /** Per doc id, the document with every change applied whose dependencies are present. */
  docs: Map<string, Automerge.Doc<unknown>>
  /**
   * Per doc id, changes waiting for a dependency, by change hash. Kept here rather than in
   * Automerge's own queue so checkpoints carry them and their order of release is fixed.
   */
  pending: Map<string, Map<string, PendingChange>>
  /** Malformed `xsync.doc.change` events plus changes Automerge refused; all skipped. */
  rejected: number
}

export interface DocViewOptions {
  /** @default 'docs' */
  name?: string
}

const STATE_VERSION = 1

/** Folds every `xsync.doc.change` event into per-doc Automerge documents; other types are ignored. */
export function docView(options: DocViewOptions = {}): View<DocsState> {
  const name = options.name ?? 'docs'
  if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError('a view name is a non-empty string')
  return {
    name,
    version: STATE_VERSION,
    initial: () => ({ docs: new Map(), pending: new Map(), rejected: 0 }),
    reduce(state, event) {
      if (event.type === DOC_CHANGE) applyEvent(state, event.body)
      return state
    },
    encode: encodeDocs,
    decode: decodeDocs,
    documents: {
      read(state, id) {
        const d = readDoc(state, id)
        // A clone: the live document must stay the host's alone.
        return d === undefined ? undefined : Automerge.clone(d)
      },
      change: (log, id, current, fn) => changeDoc(log, id, current as Automerge.Doc<unknown> | undefined, fn),
    },
  }
}

/** The document `docId` of a `docView` state, or `undefined` if no change for it was folded. */
export function readDoc<T = unknown>(state: DocsState, docId: string): Automerge.Doc<T> | undefined {
  return state.docs.get(docId) as Automerge.Doc<T> | undefined
}

/**
 * Make a change with Automerge and append it to `log` as one `xsync.doc.change` event. `current`
 * is the document to change (usually `readDoc` of the view's state); it is not modified, so a
 * document the view host still folds into stays usable. Resolves with the appended event, or
 * `undefined` if `fn` changed nothing (no event is appended then).
 *
 * Starting from `undefined` creates new root objects: two peers that both start a list from
 * scratch make two lists, and Automerge keeps one. Start from the folded document when it exists.
 */
export async function changeDoc<T>(log: Log, docId: string, current: Automerge.Doc<T> | undefined, fn: Automerge.ChangeFn<T>): Promise<LogEvent<DocChangeBody> | undefined> {
  checkDocId(docId)
  if (typeof fn !== 'function') throw new InvalidArgumentError('changeDoc takes a change function')
  if (current !== undefined && !Automerge.isAutomerge(current)) throw new InvalidArgumentError('current must be an Automerge document or undefined')
  // A clone gets a fresh random actor. Actor ids need not be derived from the author: the fold
  // applies change bytes, whoever made them. A random actor per call also keeps two calls from
  // the same stale `current` concurrent; one reused actor would give both the same seq, and
  // Automerge refuses the second.
  const working = current === undefined ? Automerge.init<T>() : Automerge.clone(current)
  let change: Uint8Array | undefined
  try {
    change = Automerge.getLastLocalChange(Automerge.change(working, fn))
  } finally {
    // The clone holds a copy of the whole document in wasm memory, which the GC does not see.
    Automerge.free(working)
  }
  if (change === undefined) return undefined
  return log.append<DocChangeBody>(DOC_CHANGE, { doc: docId, changes: [change] })
}

/** Throws `INVALID_ARGUMENT` unless `docId` is a non-empty string of at most 256 UTF-8 bytes. */
export function checkDocId(docId: unknown): asserts docId is string {
  if (!isDocId(docId)) throw new InvalidArgumentError(`a doc id is a non-empty string of at most ${MAX_DOC_ID_BYTES} UTF-8 bytes`)
}

function isDocId(x: unknown): x is string {
  // A UTF-16 code unit is at most 3 UTF-8 bytes, so short ids skip the encoding.
  return typeof x === 'string' && x.length > 0 && (x.length * 3 <= MAX_DOC_ID_BYTES || utf8.encode(x).length <= MAX_DOC_ID_BYTES)
}

const utf8 = new TextEncoder()

// --- the fold --------------------------------------------------------------------------------

interface Decoded {
  bytes: Uint8Array
  hash: string
  deps: string[]
}

/** Parse an event body; `undefined` if malformed (the shape, the doc id, or a change that does not decode). */
function parseBody(body: unknown): { doc: string; changes: Decoded[] } | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined
  const { doc, changes } = body as Partial<DocChangeBody>
  if (!isDocId(doc) || !Array.isArray(changes) || changes.length === 0) return undefined
  const out: Decoded[] = []
  for (const bytes of changes) {
    if (!(bytes instanceof Uint8Array) || bytes.length === 0) return undefined
    try {
      const { hash, deps } = Automerge.decodeChange(bytes)
      out.push({ bytes, hash, deps })
    } catch {
      return undefined
    }
  }
  return { doc, changes: out }
}

function applyEvent(state: DocsState, body: unknown): void {
  // A whole event is malformed or not: one bad change skips all of it, so no event half-applies
  // for a reason as plain as bad bytes.
  const parsed = parseBody(body)
  if (!parsed) {
    state.rejected++
    return
  }
  const { doc: id } = parsed
  let doc = state.docs.get(id) ?? Automerge.init()
  let pending = state.pending.get(id)
  for (const c of parsed.changes) {
    if (has(doc, c.hash) || pending?.has(c.hash)) continue
    if (!ready(doc, c.deps)) {
      if (!pending) state.pending.set(id, (pending = new Map()))
      pending.set(c.hash, { bytes: c.bytes, deps: c.deps })
      continue
    }
    doc = apply(state, doc, c.bytes)
    if (pending) doc = release(state, doc, pending)
  }
  state.docs.set(id, doc)
  if (pending && pending.size === 0) state.pending.delete(id)
}

/** Apply waiting changes whose dependencies are now present, in hash order, until none is ready. */
function release(state: DocsState, doc: Automerge.Doc<unknown>, pending: Map<string, PendingChange>): Automerge.Doc<unknown> {
  for (let progress = true; progress && pending.size > 0; ) {
    progress = false
    for (const hash of [...pending.keys()].sort()) {
      const p = pending.get(hash)!
      if (!ready(doc, p.deps)) continue
      pending.delete(hash)
      doc = apply(state, doc, p.bytes)
      progress = true
    }
  }
  return doc
}

function has(doc: Automerge.Doc<unknown>, hash: string): boolean {
  return Automerge.getMissingDeps(doc, [hash]).length === 0
}

// Automerge's own queue stays empty (only ready changes reach it), so `getMissingDeps` names
// exactly the absent ones.
function ready(doc: Automerge.Doc<unknown>, deps: string[]): boolean {
  return deps.length === 0 || Automerge.getMissingDeps(doc, deps).length === 0
}

/**
 * Apply one change whose dependencies are present. Automerge refuses some that decode fine (a
 * reused actor seq, ops on objects that do not exist), and a refusal can leave the document's
 * indexes broken (a later valid change then fails too). So on a refusal the document is rebuilt
 * from its change history, which the failed call leaves intact; that costs O(document), paid
 * only for bad input.
 */
function apply(state: DocsState, doc: Automerge.Doc<unknown>, bytes: Uint8Array): Automerge.Doc<unknown> {
  try {
    return Automerge.applyChanges(doc, [bytes])[0]
  } catch {
    state.rejected++
    // The broken handle is left to the GC, not freed: a reader may still hold it (`readDoc`).
    const history = Automerge.getAllChanges(doc).filter((c) => !equalBytes(c, bytes))
    return Automerge.applyChanges(Automerge.init(), history)[0]
  }
}

// --- checkpoints -----------------------------------------------------------------------------

/**
 * `Automerge.save` is not deterministic: equal documents that applied their changes in different
 * orders save to different bytes. Saving a fresh document that applied the same changes in one
 * fixed order (sorted by bytes) is, and it loads as fast as any save.
 */
const canonicalCache = new WeakMap<object, { heads: string; bytes: Uint8Array }>()

function canonicalSave(doc: Automerge.Doc<unknown>): Uint8Array {
  const heads = Automerge.getHeads(doc).join(',')
  const hit = canonicalCache.get(doc)
  if (hit && hit.heads === heads) return hit.bytes
  const changes = Automerge.getAllChanges(doc).sort(compareBytes)
  const scratch = Automerge.applyChanges(Automerge.init(), changes)[0]
  try {
    const bytes = Automerge.save(scratch)
    canonicalCache.set(doc, { heads, bytes })
    return bytes
  } finally {
    Automerge.free(scratch)
  }
}

type EncodedDoc = [id: string, doc: Uint8Array, pending: Uint8Array[]]

function encodeDocs(state: DocsState): Uint8Array {
  // Tuples sorted by id rather than a map keyed by id: a doc id may be any string ('__proto__').
  const docs: EncodedDoc[] = [...state.docs.keys()].sort().map((id) => {
    const pending = state.pending.get(id)
    const waiting = pending ? [...pending.keys()].sort().map((h) => pending.get(h)!.bytes) : []
    return [id, canonicalSave(state.docs.get(id)!), waiting]
  })
  return dagCbor.encode({ v: STATE_VERSION, docs, rejected: state.rejected })
}

function decodeDocs(bytes: Uint8Array): DocsState {
  let raw: unknown
  try {
    raw = dagCbor.decode(bytes)
  } catch (err) {
    throw new DecodeError(`docs state is not DAG-CBOR: ${(err as Error).message}`, { cause: err })
  }
  const r = raw as { v?: unknown; docs?: unknown; rejected?: unknown }
  if (typeof raw !== 'object' || raw === null || r.v !== STATE_VERSION || !Array.isArray(r.docs) || !Number.isSafeInteger(r.rejected) || (r.rejected as number) < 0) {
    throw new DecodeError('docs state has the wrong shape')
  }
  const state: DocsState = { docs: new Map(), pending: new Map(), rejected: r.rejected as number }
  for (const entry of r.docs as unknown[]) {
    const [id, saved, waiting] = (Array.isArray(entry) ? entry : []) as unknown[]
    if (!isDocId(id) || !(saved instanceof Uint8Array) || !Array.isArray(waiting) || state.docs.has(id)) throw new DecodeError('docs state has a malformed document entry')
    try {
      state.docs.set(id, Automerge.load(saved))
      if (waiting.length > 0) {
        const pending = new Map<string, PendingChange>()
        for (const b of waiting) {
          const { hash, deps } = Automerge.decodeChange(b as Uint8Array)
          pending.set(hash, { bytes: b as Uint8Array, deps })
        }
        state.pending.set(id, pending)
      }
    } catch (err) {
      throw new DecodeError(`docs state holds a document Automerge cannot load: ${(err as Error).message}`, { cause: err })
    }
  }
  return state
}

// --- bytes -----------------------------------------------------------------------------------

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i]
  return a.length - b.length
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && compareBytes(a, b) === 0
}

/**
 * Standard base64 to bytes. Automerge's own helper goes through `atob` and a callback per byte,
 * about 1 s for its 3.6 MB module in Node 20; this loop takes a few tens of ms.
 */
function base64Bytes(s: string): Uint8Array {
  const table = new Uint8Array(128)
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
  for (let i = 0; i < 64; i++) table[alphabet.charCodeAt(i)] = i
  let n = s.length
  while (n > 0 && s.charCodeAt(n - 1) === 61 /* = */) n--
  const out = new Uint8Array((n * 3) >> 2)
  let o = 0
  let i = 0
  for (; i + 4 <= n; i += 4) {
    const v = (table[s.charCodeAt(i)] << 18) | (table[s.charCodeAt(i + 1)] << 12) | (table[s.charCodeAt(i + 2)] << 6) | table[s.charCodeAt(i + 3)]
    out[o++] = v >> 16
    out[o++] = (v >> 8) & 255
    out[o++] = v & 255
  }
  if (n - i >= 2) {
    const v = (table[s.charCodeAt(i)] << 18) | (table[s.charCodeAt(i + 1)] << 12) | (n - i === 3 ? table[s.charCodeAt(i + 2)] << 6 : 0)
    out[o++] = v >> 16
    if (n - i === 3) out[o++] = (v >> 8) & 255
  }
  return out
}
