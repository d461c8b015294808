/**
 * Small byte arrays (event bytes, CIDs) carved from shared 16 KiB slabs, as Node's Buffer pool
 * does. Each `new Uint8Array(n)` costs an ArrayBuffer and its backing store; at tens of
 * thousands of events a second that allocation and its collection were the largest cost of
 * ingest. A retained view keeps its slab alive: at most 16 KiB for the oldest view.
 */
const SLAB = 16 * 1024
const LARGEST = 2048
let slab = new Uint8Array(SLAB)
let used = 0

export function allocBytes(n: number): Uint8Array {
  if (n > LARGEST) return new Uint8Array(n)
  if (used + n > SLAB) {
    slab = new Uint8Array(SLAB)
    used = 0
  }
  const out = slab.subarray(used, used + n)
  // Keep views 8-byte aligned, like Node's pool.
  used += (n + 7) & ~7
  return out
}
