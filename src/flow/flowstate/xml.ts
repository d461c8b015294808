/**
 * A small, strict, namespace-aware XML 1.0 parser and writer helpers for the SCXML codec
 * (`scxml.ts`). Runs anywhere (no DOM, no Node APIs), so SCXML import works in browsers too.
 *
 * - Accepted: one root element, elements, attributes, text, comments, CDATA sections, the XML
 *   declaration and processing instructions (skipped), the five predefined entities and numeric
 *   character references, `xmlns` / `xmlns:p` declarations (names resolve to `{ ns, local }`).
 * - Refused: `<!DOCTYPE`, entity declarations and any other named entity (no expansion, so no
 *   entity bombs), unbound prefixes, duplicate attributes, mismatched tags, characters XML does not
 *   allow, `--` inside comments, `]]>` in text, input over `MAX_XML_LENGTH` characters and
 *   elements nested deeper than `MAX_XML_DEPTH` (`TOO_LARGE`). Work is linear in the input.
 * - Line ends are normalized (`\r\n` → `\n`) and attribute whitespace to spaces, as XML says.
 */

/** Characters of an SCXML document `fromScxml` reads (4× the canonical JSON bound: XML is wordier). */
export const MAX_XML_LENGTH = 1024 * 1024
/** Element nesting depth (32 levels of states, plus the wrapper, transitions, actions, params). */
export const MAX_XML_DEPTH = 64

export const XML_NS = 'http://www.w3.org/XML/1998/namespace'
const XMLNS_NS = 'http://www.w3.org/2000/xmlns/'

export interface XmlAttribute {
  /** As written, e.g. `fs:target`. */
  readonly name: string
  readonly local: string
  /** Unprefixed attributes have no namespace. */
  readonly ns: string | null
  readonly value: string
}

export interface XmlElement {
  readonly kind: 'element'
  readonly name: string
  readonly local: string
  readonly ns: string | null
  readonly attributes: readonly XmlAttribute[]
  readonly children: readonly XmlNode[]
  /** 1-based position of the `<`, for messages. */
  readonly line: number
  readonly column: number
}

export interface XmlText {
  readonly kind: 'text'
  readonly text: string
}

export type XmlNode = XmlElement | XmlText

/** Why the text is not XML this parser reads; `line`/`column` are 1-based. */
export class XmlParseError extends Error {
  constructor(
    readonly code: 'INVALID' | 'TOO_LARGE',
    message: string,
    readonly line: number,
    readonly column: number,
  ) {
    super(`${message} (line ${line}, column ${column})`)
    this.name = 'XmlParseError'
  }
}

const NAME = /[A-Za-z_:\u00C0-\uFFFF][-A-Za-z0-9._:\u00B7\u00C0-\uFFFF]*/y
const SPACE = /[ \t\n]*/y
// Chars XML 1.0 allows (surrogates are let through as halves of astral characters).
const BAD_CHAR = /[^\t\n\x20-\uFFFD]|[\uFFFE\uFFFF]/
const PREDEFINED: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }

interface Open {
  name: string
  attrs: { name: string; value: string }[]
  children: XmlNode[]
  scope: Map<string, string>
  line: number
  column: number
}

/** Parse `text` into its root element; throws `XmlParseError`. */
export function parseXml(input: string): XmlElement {
  if (input.length > MAX_XML_LENGTH) throw new XmlParseError('TOO_LARGE', `the document is over ${MAX_XML_LENGTH} characters`, 1, 1)
  const text = input.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n')
  let pos = 0
  const fail = (message: string, at = pos): never => {
    const before = text.slice(0, at)
    const line = before.split('\n').length
    throw new XmlParseError('INVALID', message, line, at - before.lastIndexOf('\n'))
  }
  const bad = BAD_CHAR.exec(text)
  if (bad) fail(`character U+${bad[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')} is not allowed in XML`, bad.index)

  const decode = (s: string, at: number): string =>
    s.replace(/&([^;&]*);?/g, (m, ref: string, offset: number) => {
      if (!m.endsWith(';')) fail('& starts a reference; write &amp; for a literal &', at + offset)
      if (Object.hasOwn(PREDEFINED, ref)) return PREDEFINED[ref]
      const num = /^#x([0-9A-Fa-f]{1,6})$/.exec(ref) ?? /^#([0-9]{1,7})$/.exec(ref)
      if (!num) fail(`the entity &${ref}; is not one of the five XML predefines (entities are not supported)`, at + offset)
      const cp = parseInt(num![1], ref[1] === 'x' ? 16 : 10)
      const ok = cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff)
      if (!ok) fail(`&${ref}; is not a character XML allows`, at + offset)
      return String.fromCodePoint(cp)
    })
  const name = (): string => {
    NAME.lastIndex = pos
    const m = NAME.exec(text)
    if (!m) fail('expected a name')
    pos = NAME.lastIndex
    return m![0]
  }
  const space = (): boolean => {
    SPACE.lastIndex = pos
    SPACE.exec(text)
    const moved = SPACE.lastIndex > pos
    pos = SPACE.lastIndex
    return moved
  }
  const skipUntil = (end: string, what: string): string => {
    const i = text.indexOf(end, pos)
    if (i < 0) fail(`unterminated ${what}`)
    const body = text.slice(pos, i)
    pos = i + end.length
    return body
  }
  const position = (at: number): [number, number] => {
    const before = text.slice(0, at)
    return [before.split('\n').length, at - before.lastIndexOf('\n')]
  }

  const stack: Open[] = []
  let root: XmlElement | undefined
  const misc = (): void => {
    // Outside the root: whitespace, comments and PIs only.
    for (;;) {
      space()
      if (text.startsWith('<!--', pos)) comment()
      else if (text.startsWith('<?', pos)) pi()
      else return
    }
  }
  const comment = (): void => {
    pos += 4
    const body = skipUntil('-->', 'comment')
    if (body.includes('--') || body.endsWith('-')) fail('"--" is not allowed inside a comment', pos - 3)
  }
  const pi = (): void => {
    pos += 2
    const target = name()
    if (target.toLowerCase() === 'xml' && pos - target.length - 2 !== 0) fail('the XML declaration must come first')
    skipUntil('?>', 'processing instruction')
  }

  if (text.startsWith('<?xml', 0) && /\s/.test(text[5] ?? '')) pi()
  misc()
  if (text.startsWith('<!DOCTYPE', pos) || text.startsWith('<!ENTITY', pos)) fail('DTDs and entity declarations are not supported')
  if (text[pos] !== '<') fail('expected the root element')

  while (pos < text.length) {
    if (stack.length === 0 && root) {
      misc()
      if (pos < text.length) fail('only one root element is allowed')
      break
    }
    if (text[pos] !== '<') {
      const end = text.indexOf('<', pos)
      const raw = text.slice(pos, end < 0 ? text.length : end)
      if (end < 0) fail('unexpected end of document inside an element')
      if (raw.includes(']]>')) fail('"]]>" is not allowed in text', pos + raw.indexOf(']]>'))
      stack[stack.length - 1].children.push({ kind: 'text', text: decode(raw, pos) })
      pos = end
      continue
    }
    if (text.startsWith('<!--', pos)) {
      comment()
      continue
    }
    if (text.startsWith('<![CDATA[', pos)) {
      if (stack.length === 0) fail('CDATA outside the root element')
      pos += 9
      stack[stack.length - 1].children.push({ kind: 'text', text: skipUntil(']]>', 'CDATA section') })
      continue
    }
    if (text.startsWith('<!', pos)) fail('DTDs and entity declarations are not supported')
    if (text.startsWith('<?', pos)) {
      pi()
      continue
    }
    if (text.startsWith('</', pos)) {
      const at = pos
      pos += 2
      const n = name()
      space()
      if (text[pos] !== '>') fail('expected > to end the end tag')
      pos++
      const open = stack.pop()
      if (!open || open.name !== n) fail(open ? `</${n}> does not close <${open.name}>` : `</${n}> closes nothing`, at)
      close(open!)
      continue
    }
    // A start tag.
    const at = pos
    pos++
    const tag = name()
    const attrs: { name: string; value: string }[] = []
    for (;;) {
      const spaced = space()
      if (text.startsWith('/>', pos) || text[pos] === '>') break
      if (!spaced) fail('expected whitespace before an attribute')
      const aAt = pos
      const an = name()
      space()
      if (text[pos] !== '=') fail(`expected = after ${an}`)
      pos++
      space()
      const q = text[pos]
      if (q !== '"' && q !== "'") fail('an attribute value is quoted')
      const end = text.indexOf(q, pos + 1)
      if (end < 0) fail('unterminated attribute value')
      const raw = text.slice(pos + 1, end)
      if (raw.includes('<')) fail('< is not allowed in an attribute value', pos + 1 + raw.indexOf('<'))
      if (attrs.some((a) => a.name === an)) fail(`duplicate attribute ${an}`, aAt)
      attrs.push({ name: an, value: decode(raw.replace(/[\t\n]/g, ' '), pos + 1) })
      pos = end + 1
    }
    if (stack.length >= MAX_XML_DEPTH) {
      const [line, column] = position(at)
      throw new XmlParseError('TOO_LARGE', `elements nest at most ${MAX_XML_DEPTH} deep`, line, column)
    }
    const parentScope = stack.length > 0 ? stack[stack.length - 1].scope : new Map([['xml', XML_NS]])
    let scope = parentScope
    for (const a of attrs) {
      if (a.name === 'xmlns' || a.name.startsWith('xmlns:')) {
        if (scope === parentScope) scope = new Map(parentScope)
        const prefix = a.name === 'xmlns' ? '' : a.name.slice(6)
        if (prefix === 'xml' || prefix === 'xmlns' || (prefix !== '' && a.value === '')) fail(`bad namespace declaration ${a.name}`)
        scope.set(prefix, a.value)
      }
    }
    const [line, column] = position(at)
    const open: Open = { name: tag, attrs, children: [], scope, line, column }
    if (text.startsWith('/>', pos)) {
      pos += 2
      stack.push(open)
      close(stack.pop()!)
    } else {
      pos++
      stack.push(open)
    }
  }
  if (stack.length > 0) fail(`<${stack[stack.length - 1].name}> is not closed`)
  if (!root) fail('no root element')
  return root!

  function resolve(qname: string, scope: Map<string, string>, isAttribute: boolean): [string | null, string] {
    const i = qname.indexOf(':')
    if (i < 0) return [isAttribute ? null : (scope.get('') || null), qname]
    const prefix = qname.slice(0, i)
    const local = qname.slice(i + 1)
    if (local.length === 0 || local.includes(':')) fail(`${qname} is not a qualified name`)
    if (prefix === 'xmlns') return [XMLNS_NS, local]
    const ns = scope.get(prefix)
    if (ns === undefined) fail(`the prefix ${prefix} is not bound to a namespace`)
    return [ns!, local]
  }

  function close(open: Open): void {
    const [ns, local] = resolve(open.name, open.scope, false)
    const attributes: XmlAttribute[] = []
    const seen = new Set<string>()
    for (const a of open.attrs) {
      if (a.name === 'xmlns') continue
      const [ans, alocal] = resolve(a.name, open.scope, true)
      if (ans === XMLNS_NS) continue
      const key = `${ans ?? ''} ${alocal}`
      if (seen.has(key)) fail(`duplicate attribute ${a.name} (after namespace resolution)`)
      seen.add(key)
      attributes.push({ name: a.name, local: alocal, ns: ans, value: a.value })
    }
    const el: XmlElement = { kind: 'element', name: open.name, local, ns, attributes, children: open.children, line: open.line, column: open.column }
    if (stack.length > 0) stack[stack.length - 1].children.push(el)
    else root = el
  }
}

/** The value of the attribute `local` in namespace `ns` (null: unprefixed). */
export function attr(el: XmlElement, local: string, ns: string | null = null): string | undefined {
  return el.attributes.find((a) => a.local === local && a.ns === ns)?.value
}

/** Child elements only. */
export function elements(el: XmlElement): XmlElement[] {
  return el.children.filter((c): c is XmlElement => c.kind === 'element')
}

/** The concatenated text children. */
export function textOf(el: XmlElement): string {
  return el.children.map((c) => (c.kind === 'text' ? c.text : '')).join('')
}

/** An attribute value, escaped so a parser gives it back exactly (tabs and line ends included). */
export function escapeAttribute(value: string): string {
  return value.replace(/[&<"\t\n\r]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '"': '&quot;', '\t': '&#9;', '\n': '&#10;', '\r': '&#13;' })[c]!)
}

/** Text content, escaped so a parser gives it back exactly. */
export function escapeText(value: string): string {
  return value.replace(/[&<>\r]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '\r': '&#13;' })[c]!)
}
