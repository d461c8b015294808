/**
 * CRC-32 (IEEE 802.3, the zlib/PNG polynomial) for the fs store's record framing. It catches
 * torn and bit-flipped records; it is not a defence against tampering (events carry signatures
 * for that). Node >= 20.15 has a native `zlib.crc32`; older 20.x falls back to a table in JS.
 * Both compute the same function, so files move freely between them.
 */
import * as zlib from 'node:zlib'

const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32

let table: Uint32Array | undefined

function makeTable(): Uint32Array {
  const t = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    t[n] = c >>> 0
  }
  return t
}

/** CRC-32 of `data`, as an unsigned 32-bit integer. */
export function crc32(data: Uint8Array): number {
  return native !== undefined ? native(data) >>> 0 : crc32Portable(data)
}

/** The JS fallback, exported so a test can check it agrees with the native one. @internal */
export function crc32Portable(data: Uint8Array): number {
  const t = (table ??= makeTable())
  let c = 0xffffffff
  for (let i = 0; i < data.length; i++) c = t[(c ^ data[i]) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}
