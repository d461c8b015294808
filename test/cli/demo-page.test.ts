/**
 * The demo page end to end in Chromium (issue 7): two tabs are peers over BroadcastChannel, each
 * on its own IndexedDB store; the `stateflow serve` peer (SQLite) joins over WebSocket and runs
 * the server steps. The server goes away for a while: the tabs keep capturing and start a run,
 * which waits for its server step; the server comes back on the same store and port, the tabs
 * sync, the approval is clicked in one tab, and the result shows in the other tab and in the
 * server's store.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { startServer, type RunningServer } from '../../src/cli/serve/index.js'
import { sqliteStore } from '../../src/stores/sqlite-store.js'
import { createXSync } from '../../src/log/client.js'
import { ViewHost } from '../../src/views/host.js'
import { flowRunView, type FlowRunState } from '../../src/flow/run-view.js'
import { NOTE, NOTES_LOG, RUN_STARTED, RUNS_LOG } from '../../src/cli/serve/demo-approval.js'

const CHROMIUM = process.env.STATEFLOW_CHROMIUM ?? '/usr/bin/chromium'
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url).pathname

const cleanups: (() => Promise<unknown>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined)
})

async function ready(page: Page, url: string): Promise<void> {
  await page.goto(url)
  await page.waitForSelector('body[data-ready=true]', { timeout: 30_000 })
}

describe('the demo page in Chromium', () => {
  it('two tabs capture offline, the server comes back, one tab approves, the other tab and the server see the result', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stateflow-demo-page-'))
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
    mkdirSync(ARTIFACTS, { recursive: true })
    const store = join(dir, 'serve.db')
    let server: RunningServer | undefined = await startServer({ store, port: 0, host: '127.0.0.1' })
    cleanups.push(async () => server?.close())
    const base = server.addresses.http
    const port = Number(new URL(base).port)

    const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] })
    cleanups.push(() => browser.close())
    const context = await browser.newContext()
    const [a, b] = [await context.newPage(), await context.newPage()]
    const errors: string[] = []
    for (const p of [a, b]) p.on('pageerror', (e) => errors.push(e.message))
    await ready(a, `${base}/demo/`)
    await ready(b, `${base}/demo/`)
    for (const p of [a, b]) {
      await p.waitForSelector('#server[data-state=online]')
      await p.waitForFunction(() => document.getElementById('tabs')?.textContent === '1')
    }

    // The server goes away: both tabs see it, and keep working with each other.
    await server.close()
    server = undefined
    for (const p of [a, b]) await p.waitForSelector('#server[data-state=offline]')
    await a.fill('[data-testid=note-input]', 'pipe leaking at gate 4')
    await a.click('[data-testid=add-note]')
    await b.fill('[data-testid=note-input]', 'valve 7 stuck open')
    await b.click('[data-testid=add-note]')
    for (const p of [a, b]) await p.waitForFunction(() => document.querySelectorAll('[data-testid=note]').length === 2)
    await a.click('[data-testid=request]')
    // The run is in both tabs, waiting: its first step runs only on a server.
    for (const p of [a, b]) await p.waitForSelector('[data-testid=run][data-status=running]')
    expect(await b.textContent('[data-testid=run]')).toContain('summarize: ready')
    await a.screenshot({ path: `${ARTIFACTS}demo-offline.png` })

    // Back, on the same store and port: the tabs redial, sync, and the server summarizes.
    server = await startServer({ store, port, host: '127.0.0.1' })
    const approver = await Promise.race([a, b].map((p) => p.waitForSelector('[data-testid=approval]', { timeout: 60_000 }).then(() => p)))
    const other = approver === a ? b : a
    expect(await approver.textContent('[data-testid=approval]')).toContain('2 notes from 2 tab(s)')
    await approver.fill('[data-testid=comment]', 'send a crew')
    await approver.screenshot({ path: `${ARTIFACTS}demo-approval.png` })
    await approver.click('[data-testid=approve]')

    const tab = await approver.textContent('#tab')
    for (const p of [other, approver]) {
      await p.waitForSelector('[data-testid=run][data-status=completed]', { timeout: 60_000 })
      expect(await p.textContent('[data-testid=outcome]')).toContain(`approved by ${tab}, recorded on serve`)
    }
    await other.screenshot({ path: `${ARTIFACTS}demo-completed.png` })
    expect(errors).toEqual([])

    // The server's own store holds the notes and the completed run.
    await server.close()
    server = undefined
    const client = await createXSync({ store: sqliteStore(store) })
    cleanups.push(() => client.close())
    const notes: string[] = []
    for await (const e of client.log(NOTES_LOG).events()) if (e.type === NOTE) notes.push((e.body as { text: string }).text)
    expect(notes.sort()).toEqual(['pipe leaking at gate 4', 'valve 7 stuck open'])
    let runId = ''
    for await (const e of client.log(RUNS_LOG).events()) if (e.type === RUN_STARTED) runId = (e.body as { runId: string }).runId
    const host = new ViewHost(client.log(runId), client.store, flowRunView)
    const s = await host.read((x) => structuredClone(x) as FlowRunState)
    await host.close()
    expect(s.status).toBe('completed')
    expect(s.output).toMatchObject({ recorded: true, on: 'serve', approved: true, by: tab })
    expect(s.steps.approve.output).toMatchObject({ approved: true, comment: 'send a crew' })
  })
})
