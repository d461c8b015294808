/**
 * Readable JSON for decoded IPLD values, in DAG-JSON's conventions: bytes as
 * `{"/": {"bytes": "<base64, standard alphabet, no padding>"}}`, links as `{"/": "<CID>"}`,
 * integers beyond 2^53 as plain JSON integers. Written here (not `@ipld/dag-json`, a dev
 * dependency) so the CLI needs nothing the package does not ship. Map keys keep the decoded
 * (canonical DAG-CBOR) order.
 */
import { CID } from 'multiformats/cid'

/** The JSON text of an IPLD value. */
export function stringifyDagJson(value: unknown): string {
  if (value === null || value === undefined) return 'null'
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false'
    case 'number':
      // DAG-CBOR has no NaN or Infinity; should one appear, keep the line valid JSON.
      return Number.isFinite(value) ? JSON.stringify(value) : 'null'
    case 'bigint':
      return value.toString()
    case 'string':
      return JSON.stringify(value)
  }
  if (value instanceof Uint8Array) return `{"/":{"bytes":${JSON.stringify(base64(value, false))}}}`
  const cid = CID.asCID(value)
  if (cid !== null) return `{"/":${JSON.stringify(cid.toString())}}`
  if (Array.isArray(value)) return `[${value.map(stringifyDagJson).join(',')}]`
  if (typeof value === 'object') {
    // Absent, as JSON.stringify has it: decoded IPLD has no undefined, but a view's state may.
    const parts = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${JSON.stringify(k)}:${stringifyDagJson(v)}`)
    return `{${parts.join(',')}}`
  }
  return 'null'
}

/** Standard base64; padded unless asked otherwise (DAG-JSON bytes are unpadded). */
export function base64(bytes: Uint8Array, pad = true): string {
  const s = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')
  return pad ? s : s.replace(/=+$/, '')
}
