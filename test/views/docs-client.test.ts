import { afterEach, describe, expect, it } from 'vitest'
import { createXSync } from '../../src/views/client.js'
import type { XSyncClient } from '../../src/log/client.js'
import { docView } from '../../src/views/doc-view.js'
import { memoryNetwork } from '../../src/transports/memory-network.js'

const clients: XSyncClient[] = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
})

describe('log.doc / log.changeDoc through the view host', () => {
  it('writes changes as events, reads copies, and two peers converge', async () => {
    const net = memoryNetwork({ seed: 31 })
    const mk = async (name: string) => {
      const c = await createXSync({ transports: [net.transport(name)], views: { docs: docView() } })
      clients.push(c)
      await c.listen()
      return c
    }
    const a = await mk('a')
    const b = await mk('b')
    await b.connect('memory:a')
    const la = a.log('notes')
    const lb = b.log('notes')
    const e = await la.changeDoc<{ title?: string; tags?: string[] }>('todo', (d) => {
      d.title = 'groceries'
      d.tags = ['home']
    })
    expect(e?.type).toBe('xsync.doc.change')
    await lb.changeDoc<{ tags?: string[] }>('todo', (d) => {
      d.tags = ['from b']
    })
    await net.idle()
    await a.sync('notes')
    await b.sync('notes')
    await net.idle()
    const da = (await la.doc<{ title: string; tags: string[] }>('todo'))!
    const db = (await lb.doc<{ title: string; tags: string[] }>('todo'))!
    expect(JSON.stringify(da)).toBe(JSON.stringify(db))
    expect(da.title).toBe('groceries')
    // The copy handed out is not the host's: changing nothing through it leaves the view as is.
    expect(await la.changeDoc('todo', () => undefined)).toBeUndefined()
    expect(await la.doc('missing')).toBeUndefined()
  })

  it('without a document view, doc() and changeDoc() are NOT_FOUND', async () => {
    const c = await createXSync()
    clients.push(c)
    await expect(c.log('l').doc('x')).rejects.toMatchObject({ code: 'NOT_FOUND' })
    await expect(c.log('l').changeDoc('x', () => undefined)).rejects.toMatchObject({ code: 'NOT_FOUND' })
  })
})
