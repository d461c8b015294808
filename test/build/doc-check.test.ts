/**
 * Docs compile (STYLE 19): the TypeScript blocks of README.md, in order, as one module that
 * imports the package by its public names, must type-check against the sources.
 */
import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import ts from 'typescript'

const root = resolve(new URL('../..', import.meta.url).pathname)

describe('build - docs compile', () => {
  it('README.md TypeScript blocks type-check against the public entry points', () => {
    const readme = readFileSync(join(root, 'README.md'), 'utf8')
    const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1])
    expect(blocks.length).toBeGreaterThan(0)
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, { types?: string } | string> }
    // Map each public subpath to its source file, as the exports map maps it to dist.
    const paths: Record<string, string[]> = {}
    for (const [sub, target] of Object.entries(pkg.exports)) {
      if (typeof target === 'string' || !target.types) continue
      const name = sub === '.' ? 'stateflow' : `stateflow/${sub.slice(2)}`
      paths[name] = [target.types.replace(/^\.\/dist\//, './src/').replace(/\.d\.ts$/, '.ts')]
    }
    const file = join(root, 'test/build/__readme__.ts')
    const source = `export {}\n${blocks.join('\n')}`
    const host = ts.createCompilerHost({})
    const read = host.readFile.bind(host)
    host.readFile = (f) => (resolve(f) === file ? source : read(f))
    const exists = host.fileExists.bind(host)
    host.fileExists = (f) => resolve(f) === file || exists(f)
    const program = ts.createProgram(
      [file],
      {
        target: ts.ScriptTarget.ES2022,
        module: ts.ModuleKind.NodeNext,
        moduleResolution: ts.ModuleResolutionKind.NodeNext,
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: ['node'],
        lib: ['lib.es2023.d.ts', 'lib.dom.d.ts'],
        baseUrl: root,
        paths,
      },
      host,
    )
    const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => d.file === undefined || resolve(d.file.fileName) === file)
    const text = diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))
    expect(text).toEqual([])
  })
})
