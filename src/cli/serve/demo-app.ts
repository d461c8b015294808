/**
 * The demo page's script (bundled for the browser by demo-assets.ts): this tab is a peer. Its
 * events live in its own IndexedDB store; it reaches the other tabs of this origin over a
 * BroadcastChannel and the `stateflow serve` peer over WebSocket (`/sync`), redialing while the
 * server is unreachable; capturing notes and approving work offline, and everything syncs when
 * the connection returns.
 *
 * Tabs find each other with a `hello` on a second channel; of two tabs, the one with the greater
 * id dials, so each pair holds one connection.
 */
import { createXSync } from '../../log/client.js'
import type { LogEvent } from '../../log/log.js'
import { createStateFlowRuntime, type RunHandle } from '../../flow/runtime.js'
import type { FlowRunState } from '../../flow/run-view.js'
import { indexedDbStore } from '../../stores/indexeddb-store.js'
import { broadcastChannelTransport } from '../../transports/broadcast-channel.js'
import { webSocketTransport } from '../../transports/websocket.js'
import { approvalWorkflow, DEMO_CHANNEL, NOTE, NOTES_LOG, RUN_STARTED, RUNS_LOG, type ApprovalInput, type Decision, type Summary } from './demo-approval.js'

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T

function el(tag: string, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElement {
  const e = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v)
  for (const c of children) e.append(c)
  return e
}

function tabIdentity(): string {
  const key = 'stateflow-demo-tab'
  let id = sessionStorage.getItem(key)
  if (!id) {
    id = `tab-${crypto.getRandomValues(new Uint32Array(1))[0].toString(36)}`
    sessionStorage.setItem(key, id)
  }
  return id
}

async function main(): Promise<void> {
  const tab = tabIdentity()
  $('tab').textContent = tab
  const client = await createXSync({
    store: indexedDbStore(`stateflow-demo-${tab}`),
    transports: [broadcastChannelTransport(DEMO_CHANNEL, { id: tab }), webSocketTransport()],
    reconnect: { minDelayMs: 250, maxDelayMs: 2000 },
  })
  await client.listen()

  // --- peers: the other tabs, and the server ---------------------------------------------------
  const hello = new BroadcastChannel(`${DEMO_CHANNEL}-hello`)
  const known = new Set<string>()
  hello.onmessage = (ev: MessageEvent) => {
    const other = (ev.data as { hello?: unknown })?.hello
    if (typeof other !== 'string' || other === tab || known.has(other)) return
    known.add(other)
    hello.postMessage({ hello: tab })
    if (tab > other) void client.connect(`bc:${DEMO_CHANNEL}/${other}`).catch(() => known.delete(other))
  }
  hello.postMessage({ hello: tab })

  const server = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/sync`
  // The first dial may fail (the server is down): try again until it answers; after that the
  // client redials a dropped connection by itself.
  const dialServer = (): void => {
    client.connect(server).catch(() => setTimeout(dialServer, 1000))
  }
  dialServer()
  const showPeers = (): void => {
    const peers = client.peers()
    const online = peers.some((p) => p.address.startsWith('ws'))
    $('server').textContent = online ? 'online' : 'offline'
    $('server').dataset.state = online ? 'online' : 'offline'
    $('tabs').textContent = String(peers.filter((p) => p.address.startsWith('bc:')).length)
  }
  setInterval(showPeers, 300)
  showPeers()

  // --- notes: captured here, kept in IndexedDB, synced when peers are there --------------------
  const notes = client.log(NOTES_LOG)
  const renderNotes = async (): Promise<void> => {
    const items: HTMLElement[] = []
    for await (const e of notes.events()) {
      if (e.type !== NOTE) continue
      const b = e.body as { text: string; by: string }
      items.push(el('li', { 'data-testid': 'note' }, `${b.text} `, el('small', {}, `(${b.by})`)))
    }
    $('notes').replaceChildren(...items)
    $<HTMLButtonElement>('request').disabled = items.length === 0
  }
  notes.subscribe(() => void renderNotes())
  void renderNotes()
  $<HTMLFormElement>('note-form').onsubmit = async (ev) => {
    ev.preventDefault()
    const input = $<HTMLInputElement>('note')
    const text = input.value.trim()
    if (!text) return
    input.value = ''
    await notes.append(NOTE, { text: text.slice(0, 500), by: tab })
  }

  // --- runs: started here or by any peer; the approval step runs in a tab ------------------------
  const runtime = createStateFlowRuntime({ node: { id: tab, kind: 'browser', capabilities: [] }, workflows: [approvalWorkflow] })
  runtime.register('demo.approve', (ctx, summary: Summary) => {
    return new Promise<Decision>((resolve, reject) => {
      const comment = el('input', { 'data-testid': 'comment', placeholder: 'comment' }) as HTMLInputElement
      const decide = (approved: boolean) => () => {
        form.remove()
        resolve({ approved, by: tab, comment: comment.value.slice(0, 500) })
      }
      const yes = el('button', { 'data-testid': 'approve', type: 'button' }, 'Approve')
      const no = el('button', { 'data-testid': 'reject', type: 'button' }, 'Reject')
      yes.onclick = decide(true)
      no.onclick = decide(false)
      const form = el('div', { class: 'card', 'data-testid': 'approval', 'data-run': ctx.runId }, el('p', {}, `${summary.count} notes from ${summary.authors} tab(s):`), el('pre', {}, summary.text), comment, yes, no)
      $('forms').append(form)
      // Another peer took the step over, or the run was cancelled: the form goes away.
      ctx.signal.addEventListener('abort', () => {
        form.remove()
        reject(ctx.signal.reason)
      })
    })
  })

  const runs = client.log(RUNS_LOG)
  const followed = new Map<string, RunHandle>()
  const follow = (e: LogEvent): void => {
    const id = (e.body as { runId?: unknown } | null)?.runId
    if (e.type !== RUN_STARTED || typeof id !== 'string' || followed.has(id)) return
    const row = el('li', { 'data-testid': 'run', 'data-run': id, 'data-status': 'pending' }, `${id.slice(0, 16)}…`)
    $('runs').prepend(row)
    void runtime.join(id, { client }).then(async (run) => {
      followed.set(id, run)
      for await (const s of run.observe()) renderRun(row, s)
    })
  }
  runs.subscribe(follow)
  for await (const e of runs.events()) follow(e)

  $<HTMLButtonElement>('request').onclick = async () => {
    const input: ApprovalInput = { notes: [] }
    for await (const e of notes.events()) if (e.type === NOTE) input.notes.push(e.body as { text: string; by: string })
    const run = await runtime.start({ client, workflow: approvalWorkflow, input })
    await runs.append(RUN_STARTED, { runId: run.id, by: tab })
  }
  document.body.dataset.ready = 'true'
}

function renderRun(row: HTMLElement, s: FlowRunState): void {
  row.dataset.status = s.status
  const step = (id: string): string => `${id}: ${s.steps[id]?.status ?? '-'}`
  const out = s.status === 'completed' ? (s.output as { approved?: boolean; by?: string; on?: string } | null) : null
  const decision = s.steps.approve?.output as Decision | undefined
  row.replaceChildren(
    el('code', {}, `${(s.runId ?? '').slice(0, 16)}…`),
    ` ${s.status} · ${['summarize', 'approve', 'record'].map(step).join(' · ')}`,
    ...(out ? [el('strong', { 'data-testid': 'outcome' }, ` ${out.approved ? 'approved' : 'rejected'} by ${out.by}, recorded on ${out.on}`)] : []),
    ...(decision?.comment ? [el('em', {}, ` “${decision.comment}”`)] : []),
  )
}

main().catch((err: unknown) => {
  document.body.dataset.error = String((err as Error)?.message ?? err)
  $('error').textContent = `The demo could not start: ${(err as Error)?.message ?? err}`
})
