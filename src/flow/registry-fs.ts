/**
 * The registry as files (DESIGN §10), Node only: meant for the subpath export
 * `stateflow/registry-fs` (package.json `exports["./registry-fs"]` →
 * `./dist/flow/registry-fs.js`), never for the browser-safe main entry.
 *
 * Layout under `dir`, one folder per id@version:
 *   registry/flows/<id>@<version>/definition.json   the canonical JSON, byte for byte (no newline)
 *   registry/flows/<id>@<version>/manifest.json     the signed manifest (canonical JSON)
 *   registry/flows/<id>@<version>/definition.scxml  only when the publication carries SCXML
 *
 * Import reads every folder, verifies all of them (shape, hashes, canonical form, signature,
 * trust, conflicts) before appending any, and refuses the whole bucket with the first typed error
 * (`DECODE`, `HASH_MISMATCH`, `SIGNATURE`, `UNTRUSTED_SIGNER`, `CONFLICT`): a tampered file never
 * enters the registry log.
 *
 * @example
 * await exportBucket(registry, './bucket')
 * await importBucket(otherRegistry, './bucket') // { added: ['shop.checkout@1.2.0'], unchanged: [] }
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { NotFoundError } from '../errors.js'
import { DecodeError } from '../log/errors.js'
import { canonicalJson } from './canonical-json.js'
import type { Registry, RegistryEntry, TrustOptions } from './registry.js'

const FLOWS = join('registry', 'flows')

/** Write every publication `registry.entries(options)` gives; returns the `id@version`s written. */
export async function exportBucket(registry: Registry, dir: string, options: TrustOptions = {}): Promise<string[]> {
  const written: string[] = []
  for (const e of await registry.entries(options)) {
    const name = `${e.manifest.id}@${e.manifest.version}`
    const folder = join(dir, FLOWS, name)
    await mkdir(folder, { recursive: true })
    await writeFile(join(folder, 'definition.json'), e.definition)
    await writeFile(join(folder, 'manifest.json'), canonicalJson(e.manifest))
    if (e.scxml !== undefined) await writeFile(join(folder, 'definition.scxml'), e.scxml)
    written.push(name)
  }
  return written
}

// fatal: bad UTF-8 is refused; ignoreBOM: a BOM stays in the text, so it fails the hash instead of being dropped.
const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

async function readText(path: string, optional = false): Promise<string | undefined> {
  let bytes: Uint8Array
  try {
    bytes = await readFile(path)
  } catch (err) {
    if (optional && (err as { code?: string }).code === 'ENOENT') return undefined
    throw new DecodeError(`cannot read ${path}: ${(err as Error).message}`)
  }
  try {
    return text.decode(bytes)
  } catch {
    throw new DecodeError(`${path} is not UTF-8`)
  }
}

/** Read the bucket under `dir` and import it into `registry` (see the module note); all or nothing. */
export async function importBucket(registry: Registry, dir: string, options: TrustOptions = {}): Promise<{ added: string[]; unchanged: string[] }> {
  let names: string[]
  try {
    names = (await readdir(join(dir, FLOWS), { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name).sort()
  } catch {
    throw new NotFoundError(`no registry bucket at ${join(dir, FLOWS)}`)
  }
  const entries: RegistryEntry[] = []
  for (const name of names) {
    const folder = join(dir, FLOWS, name)
    let manifest: RegistryEntry['manifest']
    try {
      manifest = JSON.parse((await readText(join(folder, 'manifest.json')))!)
    } catch (err) {
      throw err instanceof DecodeError ? err : new DecodeError(`${join(folder, 'manifest.json')} is not JSON`)
    }
    if (`${manifest?.id}@${manifest?.version}` !== name) throw new DecodeError(`${folder}: the manifest names ${manifest?.id}@${manifest?.version}`)
    const scxml = await readText(join(folder, 'definition.scxml'), true)
    entries.push({ manifest, definition: (await readText(join(folder, 'definition.json')))!, ...(scxml !== undefined ? { scxml } : {}) })
  }
  return registry.importEntries(entries, options)
}
