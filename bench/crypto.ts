/**
 * The ceiling: raw `node:crypto` Ed25519 sign and verify, measured in the same process as the
 * other figures, so their ratios to it mean something on whatever machine runs them. Also the
 * project's own node backend (what `Log` calls), to show what its wrapping costs.
 *
 *   node --import tsx bench/crypto.ts [--quick]
 */
import crypto from 'node:crypto'
import { createRequire } from 'node:module'
import { defaultSigningBackend, signingBackend, type BackendName } from '../src/log/crypto-backend.js'
import { generateIdentity } from '../src/log/identity.js'
import { cidOf, signingMessage } from '../src/log/codec.js'
import { asyncOpsPerSecond, count, figure, isMain, median, opsPerSecond, parseArgs, progress, runModules, type BenchModule, type BenchOptions, type Figure } from './harness.js'

/** The part of sodium-native (optional dependency) measured here. */
export interface RawSodium {
  crypto_sign_seed_keypair(pk: Uint8Array, sk: Uint8Array, seed: Uint8Array): void
  crypto_sign_detached(sig: Uint8Array, msg: Uint8Array, sk: Uint8Array): void
  crypto_sign_verify_detached(sig: Uint8Array, msg: Uint8Array, pk: Uint8Array): boolean
}

/** libsodium through sodium-native, if installed. */
export const rawSodium: RawSodium | undefined = (() => {
  try {
    return createRequire(import.meta.url)('sodium-native') as RawSodium
  } catch {
    return undefined
  }
})()

/** A raw one-core sign function of the named backend's primitive (node:crypto or libsodium). */
export function rawSigner(name: 'node' | 'sodium'): (msg: Uint8Array) => unknown {
  if (name === 'sodium' && rawSodium) {
    const na = rawSodium
    const pk = new Uint8Array(32)
    const sk = new Uint8Array(64)
    na.crypto_sign_seed_keypair(pk, sk, crypto.randomBytes(32))
    const sig = new Uint8Array(64)
    return (m) => na.crypto_sign_detached(sig, m, sk)
  }
  const { privateKey } = crypto.generateKeyPairSync('ed25519')
  return (m) => crypto.sign(null, m, privateKey)
}

export interface Ceiling {
  /** The backend `createXSync()` uses by default on this machine. */
  defaultBackend: BackendName
  /** Raw node:crypto sign per second, one core (sync). */
  sign: number
  /** Raw node:crypto verify per second, one core (sync). */
  verify: number
  /** Raw node:crypto verify per second with 256 in flight on libuv's pool (all cores). */
  verifyParallel: number
  /** Cores that parallel verify kept busy. */
  verifyParallelCores: number
  /** Raw libsodium sign / verify per second, one core, when sodium-native is installed. */
  sodiumSign?: number
  sodiumVerify?: number
  figures: Figure[]
}

/** A realistic message: what an author signs (the domain prefix and a CID, 55 bytes). */
function message(i: number): Uint8Array {
  const b = new Uint8Array(250)
  b[0] = i & 0xff
  b[1] = (i >>> 8) & 0xff
  return signingMessage(cidOf(b))
}

const SECTION_BACKENDS = "stateflow's signing backends as Log calls them"

let memo: Promise<Ceiling> | undefined

/** The raw crypto ceiling, measured once per process. */
export function ceiling(opts: BenchOptions): Promise<Ceiling> {
  memo ??= measureCeiling(opts)
  return memo
}

async function measureCeiling(opts: BenchOptions): Promise<Ceiling> {
  const section = 'ceiling: raw Ed25519, node:crypto and libsodium (same run)'
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519')
  const msgs = Array.from({ length: 1024 }, (_, i) => message(i))
  const sigs = msgs.map((m) => crypto.sign(null, m, privateKey))
  const figures: Figure[] = []
  const add = (f: Figure): Figure => {
    figures.push(f)
    progress(f)
    return f
  }

  const sign = add(
    figure({
      id: 'crypto.sign',
      section,
      name: 'node:crypto sign, one core',
      unit: 'ops/s',
      runs: opsPerSecond(opts, (i) => crypto.sign(null, msgs[i & 1023], privateKey)),
      note: 'crypto.sign(null, 55-byte message, KeyObject)',
    }),
  )
  const verify = add(
    figure({
      id: 'crypto.verify',
      section,
      name: 'node:crypto verify, sync, one core',
      unit: 'ops/s',
      runs: opsPerSecond(opts, (i) => crypto.verify(null, msgs[i & 1023], publicKey, sigs[i & 1023])),
    }),
  )
  const total = count(opts, 8_192, 4_096)
  const par = await asyncOpsPerSecond(
    opts,
    (i) =>
      new Promise<boolean>((resolve, reject) =>
        crypto.verify(null, msgs[i & 1023], publicKey, sigs[i & 1023], (err, ok) => (err ? reject(err) : resolve(ok))),
      ),
    256,
    total,
  )
  const verifyParallel = add(
    figure({
      id: 'crypto.verify.parallel',
      section,
      name: 'node:crypto verify, callback, 256 in flight (libuv pool)',
      unit: 'ops/s',
      runs: par.rates,
      note: `kept ${median(par.cores).toFixed(2)} cores busy (process CPU time / wall time)`,
    }),
  )

  let sodiumSign: number | undefined
  let sodiumVerify: number | undefined
  if (rawSodium) {
    const na = rawSodium
    const pk = new Uint8Array(32)
    const sk = new Uint8Array(64)
    na.crypto_sign_seed_keypair(pk, sk, crypto.randomBytes(32))
    const nsigs = msgs.map((m) => {
      const s = new Uint8Array(64)
      na.crypto_sign_detached(s, m, sk)
      return s
    })
    const out = new Uint8Array(64)
    sodiumSign = add(
      figure({
        id: 'crypto.sodium.sign',
        section,
        name: 'libsodium (sodium-native) sign, one core',
        unit: 'ops/s',
        runs: opsPerSecond(opts, (i) => na.crypto_sign_detached(out, msgs[i & 1023], sk)),
      }),
    ).median
    sodiumVerify = add(
      figure({
        id: 'crypto.sodium.verify',
        section,
        name: 'libsodium (sodium-native) verify, sync, one core',
        unit: 'ops/s',
        runs: opsPerSecond(opts, (i) => na.crypto_sign_verify_detached(nsigs[i & 1023], msgs[i & 1023], pk)),
      }),
    ).median
  } else console.log('  (sodium-native not installed: no libsodium rows)')

  // The project's backends, as Log calls them (identity.signSync; backend.verify, 256 in flight).
  for (const name of ['node', 'sodium'] as const) {
    const backend = signingBackend(name)
    if (!backend) continue
    const me = await generateIdentity({ backend })
    if (me.signSync) {
      const signSync = me.signSync
      add(
        figure({
          id: `crypto.backend.${name}.sign`,
          section: SECTION_BACKENDS,
          name: `stateflow ${name} backend: identity.signSync`,
          unit: 'ops/s',
          runs: opsPerSecond(opts, (i) => signSync(msgs[i & 1023])),
        }),
      )
    }
    const ourSigs = await Promise.all(msgs.map((m) => me.sign(m)))
    const ours = await asyncOpsPerSecond(opts, (i) => backend.verify(me.publicKey, msgs[i & 1023], ourSigs[i & 1023]), 256, total)
    add(
      figure({
        id: `crypto.backend.${name}.verify`,
        section: SECTION_BACKENDS,
        name: `stateflow ${name} backend: verify, 256 in flight`,
        unit: 'ops/s',
        runs: ours.rates,
        note: `kept ${median(ours.cores).toFixed(2)} cores busy`,
      }),
    )
  }
  const defaultBackend = (await defaultSigningBackend()).name
  return {
    defaultBackend,
    sign: sign.median,
    verify: verify.median,
    verifyParallel: verifyParallel.median,
    verifyParallelCores: median(par.cores),
    ...(sodiumSign !== undefined ? { sodiumSign, sodiumVerify } : {}),
    figures,
  }
}

export const cryptoBench: BenchModule = {
  name: 'crypto (ceiling)',
  async run(opts) {
    const c = await ceiling(opts)
    console.log(`  default signing backend of createXSync() here: ${c.defaultBackend}`)
    return c.figures
  },
}

if (isMain(import.meta.url)) await runModules([cryptoBench], parseArgs())
