/**
 * The inspector page in Debian's Chromium (playwright-core, no downloaded browser): it lists a run
 * a test peer starts, follows its timeline live as the run advances, and shows the run step by
 * step and its DAG once clicked. Screenshots go to `test-artifacts/` for people to look at; the
 * assertions are on page content only.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EXIT_OK } from '../../src/cli/io.js'
import { reviewWorkflow, startServe, testPeer, type Served, type TestPeer } from './serve-helpers.js'

const ARTIFACTS = join(import.meta.dirname, '../../test-artifacts')
const CHROMIUM = process.env.STATEFLOW_CHROMIUM ?? '/usr/bin/chromium'

describe('serve - the inspector page in Chromium', () => {
  let server: Served
  let peer: TestPeer
  let browser: Browser
  let page: Page
  const pageErrors: string[] = []

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true })
    server = await startServe()
    peer = await testPeer(server.ws)
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] })
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
    page.on('pageerror', (err) => pageErrors.push(err.message))
    page.on('console', (msg) => {
      if (msg.type() === 'error') pageErrors.push(msg.text())
    })
    page.on('response', (res) => {
      if (res.status() >= 400) pageErrors.push(`${res.status()} ${res.url()}`)
    })
  })
  afterAll(async () => {
    await browser?.close()
    await peer?.close()
    if (server) expect(await server.stop()).toBe(EXIT_OK)
    server?.cleanup()
  })

  it('serve - lists a run live, shows it step by step when clicked, and follows it to the end', async () => {
    await page.goto(`${server.http}/`)
    await page.locator('#live-status', { hasText: 'live' }).waitFor()
    await expect(page.locator('#node').textContent()).resolves.toContain(server.did)
    // The test peer is connected over WebSocket.
    await page.locator(`#peers tr[data-peer="${peer.client.did}"]`).waitFor()
    await expect(page.locator('#runs-empty').isVisible()).resolves.toBe(true)

    // A run started after the page loaded appears without a reload.
    const run = await peer.runtime.start({ client: peer.client, workflow: reviewWorkflow, input: 'hello page' })
    const row = page.locator(`#runs tr[data-run="${run.id}"]`)
    await row.waitFor()
    await expect(row.textContent()).resolves.toContain('test.review@1.0.0')
    await page.locator(`#logs tr[data-log="${run.id}"]`).waitFor()
    await page.screenshot({ path: join(ARTIFACTS, 'serve-inspector-1-run-listed.png'), fullPage: true })

    await row.locator('.run-link').click()
    await page.locator('#run-panel').waitFor()
    await expect(page.locator('#run-title').textContent()).resolves.toBe(run.id)
    // Step by step: draft failed once and succeeded on attempt 2, on the test peer, whose claims
    // won; approve waits for its signal.
    const draft = page.locator('#run-steps tr[data-step="draft"][data-status="succeeded"][data-attempt="2"]')
    await draft.waitFor()
    const draftText = (await draft.textContent())!
    expect(draftText).toContain('"hello page"') // input
    expect(draftText).toContain('"HELLO PAGE"') // output
    expect(draftText).toContain('test-peer')
    await expect(draft.locator('li[data-verdict="won"]').count()).resolves.toBe(2)
    await expect(page.locator('#run-timeline tr[data-type="stateflow.step.failed"][data-step="draft"]').textContent()).resolves.toContain('staged failure of attempt 1')
    await page.locator('#run-steps tr[data-step="approve"][data-status="awaiting-signal"]').waitFor()
    const claims = page.locator('#run-timeline tr[data-type="stateflow.step.claimed"][data-step="draft"]')
    await expect(claims.count()).resolves.toBe(2)
    for (const text of await claims.allTextContents()) expect(text).toContain('won')
    const timelineBefore = await page.locator('#run-timeline tbody tr').count()
    // The DAG: one node per event of the run's log, edges to parents.
    await page.locator('#dag svg circle').first().waitFor()
    await expect(page.locator('#dag-title').textContent()).resolves.toBe(run.id)
    await page.screenshot({ path: join(ARTIFACTS, 'serve-inspector-2-run-waiting.png'), fullPage: true })

    // The signal moves the run on; the open page follows it live.
    await run.signal('approve', { by: 'browser-test' })
    await page.locator('#run-status', { hasText: 'completed' }).waitFor()
    const publish = page.locator('#run-steps tr[data-step="publish"][data-status="succeeded"]')
    await publish.waitFor()
    expect(await publish.textContent()).toContain('browser-test')
    await page.locator('#run-timeline tr[data-type="stateflow.workflow.completed"]').waitFor()
    await page.locator('#run-timeline tr[data-type="stateflow.signal"]').waitFor()
    const events = await peer.client.log(run.id).count()
    await page.locator(`#logs tr[data-log="${run.id}"][data-count="${events}"]`).waitFor()
    const timelineAfter = await page.locator('#run-timeline tbody tr').count()
    expect(timelineAfter).toBeGreaterThan(timelineBefore)
    await expect(page.locator('#dag svg circle').count()).resolves.toBe(timelineAfter)
    await expect(page.locator('#dag svg line').count()).resolves.toBeGreaterThan(0)
    await expect(page.locator(`#runs tr[data-run="${run.id}"]`).getAttribute('data-status')).resolves.toBe('completed')
    expect(Number(await page.locator('#live-count').textContent())).toBeGreaterThan(0)
    await page.screenshot({ path: join(ARTIFACTS, 'serve-inspector-3-run-completed.png'), fullPage: true })

    // A plain log shows its DAG alone, and the page never logged an error.
    await peer.client.log('notes').append('app.note', { text: 'from the page test' })
    const notes = page.locator('#logs tr[data-log="notes"] button')
    await notes.waitFor()
    await notes.click()
    await page.locator('#dag-title', { hasText: 'notes' }).waitFor()
    await expect(page.locator('#run-panel').isHidden()).resolves.toBe(true)
    await expect(page.locator('#dag svg circle').count()).resolves.toBe(1)
    await page.screenshot({ path: join(ARTIFACTS, 'serve-inspector-4-log-dag.png'), fullPage: true })
    expect(pageErrors).toEqual([])
  })
})
