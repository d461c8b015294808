/**
 * The per-event costs under every figure above: the canonical encoder and decoder, SHA-256 of an
 * event-sized input, the CID built over it, and the generic DAG-CBOR codec the body goes through.
 *
 *   node --import tsx bench/codec.ts [--quick]
 */
import * as dagCbor from '@ipld/dag-cbor'
import { sha256, sha256Into } from '../src/log/crypto-backend.js'
import { rawSodium } from './crypto.js'
import { cidOf, decodeEvent, encodeEvent, signingMessage, type EventFields } from '../src/log/codec.js'
import { body, LOG_ID, TYPE } from './fixtures.js'
import { figure, isMain, opsPerSecond, parseArgs, progress, runModules, wanted, type BenchModule, type BenchOptions, type Figure } from './harness.js'
import { cryptoBench } from './crypto.js'

const SECTION = '5. per-event building blocks (one core)'

function sampleFields(opts: BenchOptions, i: number): EventFields {
  const prev = cidOf(Uint8Array.of(i & 0xff, 1, 2, 3))
  return {
    v: 1,
    log: LOG_ID,
    author: new Uint8Array(32).fill(7),
    seq: 1000 + i,
    prev,
    parents: [prev],
    clock: 1000 + i,
    time: 1_795_000_000_000 + i,
    type: TYPE,
    body: body(opts, 1000 + i),
  }
}

export const codecBench: BenchModule = {
  name: 'codec',
  async run(opts) {
    const out: Figure[] = []
    const add = (id: string, name: string, fn: (i: number) => unknown, note?: string): void => {
      if (!wanted(opts, id)) return
      const f = figure({ id, section: SECTION, name, unit: 'ops/s', runs: opsPerSecond(opts, fn), ...(note ? { note } : {}) })
      out.push(f)
      progress(f)
    }
    const fields = Array.from({ length: 256 }, (_, i) => sampleFields(opts, i))
    const encoded = fields.map((f) => encodeEvent(f))
    const size = encoded[0].bytes.length
    const b250 = Array.from({ length: 256 }, (_, i) => new Uint8Array(250).fill(i))
    const bodies = fields.map((f) => f.body)
    const bodyBytes = bodies.map((b) => dagCbor.encode(b))

    add('codec.encodeEvent', `encodeEvent (${size}-byte event, incl. its CID)`, (i) => encodeEvent(fields[i & 255]))
    add('codec.decodeEvent', `decodeEvent (${size}-byte event, incl. canonical check and CID)`, (i) => decodeEvent(encoded[i & 255].bytes))
    add('codec.sha256', 'sha256 of 250 bytes: sha256() (node:crypto hash, new array)', (i) => sha256(b250[i & 255]))
    const out32 = new Uint8Array(32)
    add(
      'codec.sha256Into',
      `sha256 of 250 bytes: sha256Into() (${rawSodium ? 'libsodium' : 'node:crypto'}, in place; what cidOf uses)`,
      (i) => sha256Into(out32, b250[i & 255]),
    )
    add('codec.cidOf', 'cidOf 250 bytes (sha256 + CID object)', (i) => cidOf(b250[i & 255]))
    add('codec.signingMessage', 'signingMessage (prefix + CID bytes)', (i) => signingMessage(encoded[i & 255].cid))
    add('codec.body.encode', `@ipld/dag-cbor encode of the body (${bodyBytes[0].length} B)`, (i) => dagCbor.encode(bodies[i & 255]))
    add('codec.body.decode', `@ipld/dag-cbor decode of the body (${bodyBytes[0].length} B)`, (i) => dagCbor.decode(bodyBytes[i & 255]))
    return out
  },
}

if (isMain(import.meta.url)) await runModules([cryptoBench, codecBench], parseArgs())
