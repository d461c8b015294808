/**
 * `sqliteStore(path)`: the durable EventStore on one SQLite file (better-sqlite3, WAL). Node-only,
 * behind the `stateflow/stores/sqlite` subpath.
 *
 * Layout, chosen for the two hot paths (ingest of 256-event batches, scan in total order):
 * - `events` is a rowid table: rows are appended in arrival order, which during ingest is close
 *   to total order, so a scan through the order index reads table pages nearly sequentially.
 * - Every index but one grows at its end: `events_order (log_id, clock, cid)` (clocks grow) and
 *   `events_author (log_id, author_id, seq)` (seqs grow). The CID lookup index is the one whose
 *   inserts land at random places, and each commit writes every page it touched to the WAL. So
 *   it holds only `cid_key`, the CID's last 6 bytes as an integer (about 14 bytes an entry with
 *   the rowid, against about 50 for the CID and a clustered key): ~4x the entries per page, a
 *   quarter of the pages a batch dirties. `cid_key` is not unique; a lookup also compares the
 *   full `cid`. Measured with 100,000 events of ~290 B, 256 per transaction: ~55-80k rows/s
 *   against ~45-55k for a WITHOUT ROWID table clustered on `(log_id, clock, cid)` with a
 *   unique CID index, and the same scan rate.
 * - The event's `cid ‖ sig ‖ bytes` live in one `body` blob: better-sqlite3 allocates a Buffer
 *   per blob it hands to JS, and one blob per row instead of three took a scan from ~150k to
 *   ~250k rows/s here. `cid` is also its own column, for the order index.
 * - Logs and authors are interned to small integers (`logs`, `authors`), which keeps the
 *   indexes short. `logs.count` is kept per batch so `count()` is a lookup, not a scan.
 * - `heads` and `tips` are small tables written as net changes per batch (`link-changes.ts`).
 *
 * Read-only mode (`{ readOnly: true }`, what the audit CLI uses) opens the file with SQLite's
 * read-only flag: no pragma is set, no schema is created, and every write method rejects with
 * `INVALID_ARGUMENT`. It reads committed batches that still sit in the `-wal` file, as any
 * reader does, and never writes to the database file or to an existing `-wal`.
 */
import Database from 'better-sqlite3'
import { existsSync, statSync } from 'node:fs'
import { ClosedError, CorruptError, InvalidArgumentError, NotFoundError } from '../errors.js'
import {
  DEFAULT_PAGE,
  eventStoreSymbol,
  type AuthorScanOptions,
  type EventPut,
  type EventStore,
  type ScanOptions,
  type StoredEvent,
} from './event-store.js'
import { checkBatch } from './put-checks.js'
import { linkChanges } from './link-changes.js'
import { bytesKey, equalBytes } from '../dag/bytes.js'

export interface SqliteStoreInit {
  /**
   * When a commit reaches the disk. In WAL mode a commit is appended to the `-wal` file before
   * `putBatch` resolves, so with either setting an acknowledged batch survives a kill -9 of the
   * process (the OS still holds the write).
   * - `'full'`: every commit also fsyncs the WAL, so an acknowledged batch survives power loss
   *   and OS crashes too. One fsync per `putBatch`, as the fs store does.
   * - `'normal'`: fsync only at checkpoints. After power loss the database is still consistent,
   *   but the last acknowledged batches may be gone.
   * The default is `'full'` because a lost acknowledged batch can be one's own signed events
   * already sent to peers; writing new events at those seqs after a restart is a fork.
   * @default 'full'
   */
  synchronous?: 'normal' | 'full'
  /**
   * Open an existing store for reading only, as an audit must: the file is opened with SQLite's
   * read-only flag, no pragma is written and no schema is created, so a file that is not a
   * stateflow store is `CORRUPT` and a missing one is `NOT_FOUND`. `putBatch`, `putMeta` and
   * `deleteMeta` reject with `INVALID_ARGUMENT` and write nothing; every read works, including
   * of batches committed to the `-wal` file but not yet checkpointed. The database file and an
   * existing `-wal` file are never written. SQLite still needs its `-shm` index (and a `-wal`
   * file, possibly empty) next to a WAL database to read it, and creates them if they are
   * missing. `synchronous` is ignored.
   * @default false
   */
  readOnly?: boolean
}

/** `PRAGMA application_id` of a stateflow store ("SFE1"), so a foreign SQLite file is refused. */
const APPLICATION_ID = 0x53464531
/** `PRAGMA user_version`: the schema below. A higher version was written by a newer release. */
const SCHEMA_VERSION = 2

const SCHEMA = `
CREATE TABLE logs (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, count INTEGER NOT NULL DEFAULT 0);
CREATE TABLE authors (id INTEGER PRIMARY KEY, key BLOB NOT NULL UNIQUE);
CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  log_id INTEGER NOT NULL,
  clock INTEGER NOT NULL,
  cid BLOB NOT NULL,
  cid_key INTEGER NOT NULL,
  author_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  body BLOB NOT NULL,
  cid_len INTEGER NOT NULL,
  sig_len INTEGER
);
CREATE UNIQUE INDEX events_order ON events (log_id, clock, cid);
CREATE INDEX events_cid ON events (cid_key);
CREATE INDEX events_author ON events (log_id, author_id, seq, cid);
CREATE TABLE heads (log_id INTEGER NOT NULL, cid BLOB NOT NULL, PRIMARY KEY (log_id, cid)) WITHOUT ROWID;
CREATE TABLE tips (log_id INTEGER NOT NULL, cid BLOB NOT NULL, PRIMARY KEY (log_id, cid)) WITHOUT ROWID;
CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
`

const EVENT_COLUMNS = 'clock, author_id, seq, body, cid_len, sig_len'
type EventRow = [clock: number, authorId: number, seq: number, body: Uint8Array, cidLen: number, sigLen: number | null]

function prepareAll(db: Database.Database) {
  const s = (sql: string) => db.prepare(sql)
  return {
    logByName: s('SELECT id FROM logs WHERE name = ?').pluck(),
    logById: s('SELECT name FROM logs WHERE id = ?').pluck(),
    insertLog: s('INSERT INTO logs (name) VALUES (?)'),
    addCount: s('UPDATE logs SET count = count + ? WHERE id = ?'),
    count: s('SELECT count FROM logs WHERE name = ?').pluck(),
    logs: s('SELECT name FROM logs WHERE count > 0').pluck(),
    authorByKey: s('SELECT id FROM authors WHERE key = ?').pluck(),
    authorById: s('SELECT key FROM authors WHERE id = ?').pluck(),
    insertAuthor: s('INSERT INTO authors (key) VALUES (?)'),
    insertEvent: s(
      'INSERT INTO events (log_id, clock, cid, cid_key, author_id, seq, body, cid_len, sig_len) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    get: s(`SELECT log_id, ${EVENT_COLUMNS} FROM events WHERE cid_key = ? AND cid = ?`).raw(),
    has: s('SELECT 1 FROM events WHERE cid_key = ? AND cid = ?').pluck(),
    scanFirst: s(`SELECT ${EVENT_COLUMNS} FROM events WHERE log_id = ? ORDER BY clock, cid LIMIT ?`).raw(),
    scanAfter: s(
      `SELECT ${EVENT_COLUMNS} FROM events WHERE log_id = ? AND (clock, cid) > (?, ?) ORDER BY clock, cid LIMIT ?`,
    ).raw(),
    byAuthor: s(
      `SELECT ${EVENT_COLUMNS} FROM events WHERE log_id = ? AND author_id = ? AND seq >= ? ORDER BY seq, cid LIMIT ?`,
    ).raw(),
    heads: s('SELECT cid FROM heads WHERE log_id = ? ORDER BY cid').pluck(),
    insertHead: s('INSERT OR IGNORE INTO heads (log_id, cid) VALUES (?, ?)'),
    deleteHead: s('DELETE FROM heads WHERE log_id = ? AND cid = ?'),
    tips: s('SELECT cid FROM tips WHERE log_id = ? ORDER BY cid').pluck(),
    insertTip: s('INSERT OR IGNORE INTO tips (log_id, cid) VALUES (?, ?)'),
    deleteTip: s('DELETE FROM tips WHERE log_id = ? AND cid = ?'),
    getMeta: s('SELECT value FROM meta WHERE key = ?').pluck(),
    putMeta: s('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)'),
    deleteMeta: s('DELETE FROM meta WHERE key = ?'),
  }
}
type Statements = ReturnType<typeof prepareAll>

/** SQLite's own integrity failures become our `CORRUPT`; anything else (I/O, busy) passes through. */
function toStoreError(err: unknown): unknown {
  if (err instanceof Database.SqliteError && (err.code.startsWith('SQLITE_CORRUPT') || err.code === 'SQLITE_NOTADB')) {
    return new CorruptError(`sqlite store: ${err.message}`, { cause: err })
  }
  return err
}

function openDatabase(path: string, init: SqliteStoreInit): Database.Database {
  if (init.readOnly) return openReadOnly(path)
  const db = new Database(path)
  try {
    // Reading the journal mode is the first read of the header: a non-database fails here.
    db.pragma('journal_mode = WAL')
    db.pragma(`synchronous = ${init.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`)
    db.pragma('cache_size = -16384')
    // Each batch dirties ~one page of the random-keyed CID index per event; checkpointing every
    // 4000 pages (~16 MiB of WAL) instead of 1000 copies a page rewritten by consecutive batches
    // once, not four times: +10-20% ingest measured, for 16 MiB more disk at most.
    db.pragma('wal_autocheckpoint = 4000')
    const appId = db.pragma('application_id', { simple: true }) as number
    const version = db.pragma('user_version', { simple: true }) as number
    if (appId === 0 && version === 0) {
      const tables = db.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table'").pluck().get() as number
      if (tables > 0) throw new CorruptError(`sqlite store: ${path} is an SQLite file but not a stateflow store`)
      db.transaction(() => {
        db.exec(SCHEMA)
        db.pragma(`application_id = ${APPLICATION_ID}`)
        db.pragma(`user_version = ${SCHEMA_VERSION}`)
      }).immediate()
    } else checkSchema(path, appId, version)
    return db
  } catch (err) {
    db.close()
    throw toStoreError(err)
  }
}

function checkSchema(path: string, appId: number, version: number): void {
  if (appId !== APPLICATION_ID) {
    throw new CorruptError(`sqlite store: ${path} is not a stateflow store (application_id ${appId})`)
  }
  if (version !== SCHEMA_VERSION) {
    throw new CorruptError(`sqlite store: schema version ${version} is not ${SCHEMA_VERSION} (written by another release)`)
  }
}

/** `readOnly`: an existing store, opened with SQLite's read-only flag; only reads, no pragma writes. */
function openReadOnly(path: string): Database.Database {
  let size: number
  try {
    size = statSync(path).size
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`sqlite store: no store at ${path}`)
    throw err
  }
  // SQLite deletes the -wal of an empty main file when it opens it, even read-only. A store
  // always has its first page in the main file (setting WAL mode writes it), so an empty one
  // holds no store: refuse it before SQLite touches anything.
  if (size === 0) {
    const wal = existsSync(`${path}-wal`)
    throw new CorruptError(`sqlite store: ${path} is an empty file${wal ? ' next to a -wal file' : ''}, not a stateflow store`)
  }
  let db: Database.Database
  try {
    db = new Database(path, { readonly: true, fileMustExist: true })
  } catch (err) {
    throw toStoreError(err)
  }
  try {
    // Reading a pragma is the first read of the header: a non-database fails here.
    checkSchema(path, db.pragma('application_id', { simple: true }) as number, db.pragma('user_version', { simple: true }) as number)
    return db
  } catch (err) {
    db.close()
    throw toStoreError(err)
  }
}

/**
 * The CID's last 6 bytes as a safe integer: the key of the CID lookup index. The last bytes of a
 * CID are digest bytes, uniformly spread; 48 bits keep it an exact JS number and a 6-byte
 * SQLite integer. Collisions are expected past ~16M events and only cost a row comparison.
 */
function cidKey(cid: Uint8Array): number {
  const n = cid.length
  if (n < 6) {
    let k = 0
    for (let i = 0; i < n; i++) k = k * 256 + cid[i]
    return k
  }
  return (cid[n - 6] * 0x10000 + cid[n - 5] * 0x100 + cid[n - 4]) * 0x1000000 + ((cid[n - 3] << 16) | (cid[n - 2] << 8) | cid[n - 1])
}

/** `cid ‖ sig ‖ bytes`, the one blob a row carries. */
function encodeBody(e: EventPut): Uint8Array {
  const sigLen = e.sig?.length ?? 0
  const body = new Uint8Array(e.cid.length + sigLen + e.bytes.length)
  body.set(e.cid, 0)
  if (e.sig !== undefined) body.set(e.sig, e.cid.length)
  body.set(e.bytes, e.cid.length + sigLen)
  return body
}

class SqliteStore implements EventStore {
  readonly [eventStoreSymbol] = true as const
  readonly kind = 'sqlite'
  readonly durable = true
  private db: Database.Database | undefined
  private readonly st: Statements
  // Interned ids. Rows are never deleted, so a cached id stays right unless its transaction
  // rolled back: putBatch clears the caches when it fails.
  private readonly logIds = new Map<string, number>()
  private readonly logNames = new Map<number, string>()
  private readonly authorIds = new Map<string, number>()
  private readonly authorKeys = new Map<number, Uint8Array>()
  private lastAuthor: { key: Uint8Array; id: number } | undefined
  private readonly putTx: (events: readonly EventPut[]) => void

  constructor(
    db: Database.Database,
    private readonly readOnly: boolean,
  ) {
    this.db = db
    this.st = prepareAll(db)
    const tx = db.transaction((events: readonly EventPut[]) => this.write(events))
    // IMMEDIATE takes the write lock up front, so two processes never deadlock upgrading a read.
    this.putTx = (events) => tx.immediate(events)
  }

  /** Throws unless the store is open for writing. */
  private checkWritable(): void {
    if (this.db === undefined) throw new ClosedError('sqlite store')
    if (this.readOnly) throw new InvalidArgumentError('sqlite store: store opened read-only')
  }

  /** Run `fn` on an open database, with SQLite integrity failures mapped to CORRUPT. */
  private use<T>(fn: () => T): T {
    if (this.db === undefined) throw new ClosedError('sqlite store')
    try {
      return fn()
    } catch (err) {
      throw toStoreError(err)
    }
  }

  private logId(name: string, create: boolean): number | undefined {
    let id = this.logIds.get(name)
    if (id !== undefined) return id
    id = this.st.logByName.get(name) as number | undefined
    if (id === undefined) {
      if (!create) return undefined
      id = Number(this.st.insertLog.run(name).lastInsertRowid)
    }
    this.logIds.set(name, id)
    this.logNames.set(id, name)
    return id
  }

  private logName(id: number): string {
    let name = this.logNames.get(id)
    if (name === undefined) {
      name = this.st.logById.get(id) as string | undefined
      if (name === undefined) throw new CorruptError(`sqlite store: event names log #${id}, which is missing`)
      this.logNames.set(id, name)
    }
    return name
  }

  private authorId(key: Uint8Array, create: boolean): number | undefined {
    // A batch is mostly one author: compare with the last one before building a map key.
    const last = this.lastAuthor
    if (last !== undefined && (key === last.key || equalBytes(key, last.key))) return last.id
    const id = this.lookupAuthor(key, create)
    if (id !== undefined) this.lastAuthor = { key: this.authorKeys.get(id)!, id }
    return id
  }

  private lookupAuthor(key: Uint8Array, create: boolean): number | undefined {
    const k = bytesKey(key)
    let id = this.authorIds.get(k)
    if (id !== undefined) return id
    id = this.st.authorByKey.get(key) as number | undefined
    if (id === undefined) {
      if (!create) return undefined
      id = Number(this.st.insertAuthor.run(key).lastInsertRowid)
    }
    this.authorIds.set(k, id)
    this.authorKeys.set(id, key.slice())
    return id
  }

  private authorKey(id: number): Uint8Array {
    let key = this.authorKeys.get(id)
    if (key === undefined) {
      const row = this.st.authorById.get(id) as Uint8Array | undefined
      if (row === undefined) throw new CorruptError(`sqlite store: event names author #${id}, which is missing`)
      key = new Uint8Array(row)
      this.authorKeys.set(id, key)
    }
    return key
  }

  /** The body of the putBatch transaction. */
  private write(events: readonly EventPut[]): void {
    const added: EventPut[] = []
    const counts = new Map<number, number>()
    for (const e of events) {
      const logId = this.logId(e.log, true)!
      const authorId = this.authorId(e.author, true)!
      const key = cidKey(e.cid)
      // Already stored (in any log, or earlier in this batch): the event is skipped entirely.
      if (this.st.has.get(key, e.cid) !== undefined) continue
      this.st.insertEvent.run(logId, e.clock, e.cid, key, authorId, e.seq, encodeBody(e), e.cid.length, e.sig?.length ?? null)
      added.push(e)
      counts.set(logId, (counts.get(logId) ?? 0) + 1)
    }
    if (added.length === 0) return
    const { heads, tips } = linkChanges(added)
    for (const h of heads) {
      const logId = this.logIds.get(h.log)!
      if (h.live) this.st.insertHead.run(logId, h.cid)
      else this.st.deleteHead.run(logId, h.cid)
    }
    for (const t of tips) {
      const logId = this.logIds.get(t.log)!
      if (t.live) this.st.insertTip.run(logId, t.cid)
      else this.st.deleteTip.run(logId, t.cid)
    }
    for (const [logId, n] of counts) this.st.addCount.run(n, logId)
  }

  private toStored(log: string, row: EventRow): StoredEvent {
    const [clock, authorId, seq, body, cidLen, sigLen] = row
    // Views into the row's one blob (better-sqlite3 gives each blob its own ArrayBuffer).
    const buf = body.buffer
    const at = body.byteOffset
    const skip = cidLen + (sigLen ?? 0)
    const e: StoredEvent = {
      cid: new Uint8Array(buf, at, cidLen),
      bytes: new Uint8Array(buf, at + skip, body.byteLength - skip),
      log,
      author: this.authorKey(authorId),
      seq,
      clock,
    }
    if (sigLen !== null) e.sig = new Uint8Array(buf, at + cidLen, sigLen)
    return e
  }

  async putBatch(events: readonly EventPut[]): Promise<void> {
    this.checkWritable()
    checkBatch(events)
    if (events.length === 0) return
    this.use(() => {
      try {
        this.putTx(events)
      } catch (err) {
        this.logIds.clear()
        this.logNames.clear()
        this.authorIds.clear()
        this.authorKeys.clear()
        this.lastAuthor = undefined
        throw err
      }
    })
  }

  async get(cid: Uint8Array): Promise<StoredEvent | undefined> {
    return this.use(() => {
      const row = this.st.get.get(cidKey(cid), cid) as [number, ...EventRow] | undefined
      if (row === undefined) return undefined
      const [logId, ...rest] = row
      return this.toStored(this.logName(logId), rest)
    })
  }

  async has(cid: Uint8Array): Promise<boolean> {
    return this.use(() => this.st.has.get(cidKey(cid), cid) !== undefined)
  }

  async heads(log: string): Promise<Uint8Array[]> {
    return this.use(() => this.cids(this.st.heads, log))
  }

  async tips(log: string): Promise<Uint8Array[]> {
    return this.use(() => this.cids(this.st.tips, log))
  }

  private cids(stmt: Database.Statement, log: string): Uint8Array[] {
    const logId = this.logId(log, false)
    if (logId === undefined) return []
    // ORDER BY on a blob is memcmp then length: the same order as compareBytes.
    return (stmt.all(logId) as Uint8Array[]).map((b) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength))
  }

  async scan(log: string, options: ScanOptions = {}): Promise<StoredEvent[]> {
    return this.use(() => {
      const logId = this.logId(log, false)
      if (logId === undefined) return []
      const limit = options.limit ?? DEFAULT_PAGE
      const after = options.after
      // (clock, cid) > (?, ?) is SQLite's row-value order, the same as compareEvents.
      const rows = (
        after === undefined ? this.st.scanFirst.all(logId, limit) : this.st.scanAfter.all(logId, after.clock, after.cid, limit)
      ) as EventRow[]
      return rows.map((r) => this.toStored(log, r))
    })
  }

  async byAuthor(log: string, author: Uint8Array, options: AuthorScanOptions = {}): Promise<StoredEvent[]> {
    return this.use(() => {
      const logId = this.logId(log, false)
      const authorId = this.authorId(author, false)
      if (logId === undefined || authorId === undefined) return []
      const rows = this.st.byAuthor.all(logId, authorId, options.fromSeq ?? 1, options.limit ?? DEFAULT_PAGE) as EventRow[]
      return rows.map((r) => this.toStored(log, r))
    })
  }

  async count(log: string): Promise<number> {
    return this.use(() => (this.st.count.get(log) as number | undefined) ?? 0)
  }

  async logs(): Promise<string[]> {
    // Sorted in JS, not by SQLite's UTF-8 collation, so every store lists logs in one order.
    return this.use(() => (this.st.logs.all() as string[]).sort())
  }

  async getMeta(key: string): Promise<Uint8Array | undefined> {
    return this.use(() => {
      const v = this.st.getMeta.get(key) as Uint8Array | undefined
      return v === undefined ? undefined : new Uint8Array(v.buffer, v.byteOffset, v.byteLength)
    })
  }

  async putMeta(key: string, value: Uint8Array): Promise<void> {
    this.checkWritable()
    this.use(() => this.st.putMeta.run(key, value))
  }

  async deleteMeta(key: string): Promise<void> {
    this.checkWritable()
    this.use(() => this.st.deleteMeta.run(key))
  }

  async close(): Promise<void> {
    const db = this.db
    this.db = undefined
    // Closing a read-write store checkpoints the WAL into the main file; a later open finds one
    // file. A read-only connection cannot checkpoint and leaves the files as they are.
    db?.close()
  }
}

/**
 * Open (or create) the SQLite store at `path`; with `readOnly`, open an existing one without
 * writing (`NOT_FOUND` if there is none). Opens synchronously; throws `CORRUPT` if the file is
 * not a stateflow store or SQLite finds it damaged. Returned byte arrays share buffers with
 * each other (and an author's key is one array across results): do not mutate them.
 */
export function sqliteStore(path: string, init: SqliteStoreInit = {}): EventStore {
  return new SqliteStore(openDatabase(path, init), init.readOnly === true)
}
