/**
 * `createXSync` with views: the log-layer client plus a view host per (log, registered view).
 * Hosts start on first use (`log.view(name)` / `log.observe(name)`) and then follow the log.
 *
 * @example
 * const client = await createXSync({ views: { heads: headsView() } })
 * const snap = await client.log('notes').view<ViewSnapshot<HeadsState>>('heads')
 */
import { InvalidArgumentError } from '../errors.js'
import { createXSync as createLogClient, type XSyncClient, type XSyncInit } from '../log/client.js'
import type { Log } from '../log/log.js'
import { ViewHost, type ViewHostOptions } from './host.js'
import { isView, type View } from './view.js'

export interface XSyncViewsInit extends Omit<XSyncInit, 'onLogOpened'> {
  /** Views to fold every log into, by name (`log.view(name)`). */
  views?: Record<string, View<any>>
  /** Checkpointing of view hosts. */
  viewHost?: ViewHostOptions
}

export async function createXSync(init: XSyncViewsInit = {}): Promise<XSyncClient> {
  const views = init.views ?? {}
  if (typeof views !== 'object' || views === null) throw new InvalidArgumentError('views must be an object of name → View')
  for (const [name, v] of Object.entries(views)) {
    if (!isView(v)) throw new InvalidArgumentError(`views.${name} is not a View (name, version, initial, reduce)`)
    if (v.name !== name) throw new InvalidArgumentError(`views.${name} is a view named ${JSON.stringify(v.name)}: register each view under its own name`)
  }
  const hosts: ViewHost<unknown>[] = []
  let client: XSyncClient | undefined
  // Logs open after the client exists (client.log(id)), so the store is there when hosts start.
  const attach = (log: Log): void => {
    const byName = new Map<string, ViewHost<unknown>>()
    const host = (name: string): ViewHost<unknown> => {
      let h = byName.get(name)
      if (!h) {
        h = new ViewHost(log, client!.store, views[name], init.viewHost)
        byName.set(name, h)
        hosts.push(h)
      }
      return h
    }
    const docs = Object.values(views).find((v) => v.documents !== undefined)
    log.attachViews({
      names: () => Object.keys(views),
      snapshot: (name) => host(name).snapshot(),
      observe: (name) => host(name).observe(),
      ...(docs
        ? {
            doc: (id: string) => host(docs.name).read((s) => docs.documents!.read(s, id)),
            changeDoc: async (id: string, fn: (doc: any) => void) => {
              const current = await host(docs.name).read((s) => docs.documents!.read(s, id))
              return docs.documents!.change(log, id, current, fn)
            },
          }
        : {}),
    })
  }
  const inner = await createLogClient({ ...init, onLogOpened: attach })
  client = {
    ...inner,
    async close() {
      await Promise.all(hosts.splice(0).map((h) => h.close()))
      await inner.close()
    },
  }
  return client
}
