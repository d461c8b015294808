/**
 * Worker for test/views/placement.test.ts: posts `detectLocalNode({ id: workerData.id })` as
 * seen from inside a worker_threads worker.
 *
 * Plain JS that registers tsx itself: on Node 20, `execArgv: ['--import', 'tsx']` does not
 * reach a worker's module loading, so a .ts entry (or a .ts import) fails there.
 */
import { register } from 'tsx/esm/api'
import { parentPort, workerData } from 'node:worker_threads'

register()
const { detectLocalNode } = await import('../../src/views/placement.js')

parentPort.postMessage(detectLocalNode({ id: workerData.id }))
