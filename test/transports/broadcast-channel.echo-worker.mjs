/**
 * Worker for test/transports/broadcast-channel.test.ts: listens as `workerData.id` on
 * `workerData.channel` and echoes every frame back on the connection it came in on.
 *
 * Plain JS that registers tsx itself: on Node 20, `execArgv: ['--import', 'tsx']` does not
 * reach a worker's module loading, so a .ts entry (or a .ts import) fails there.
 */
import { register } from 'tsx/esm/api'
import { parentPort, workerData } from 'node:worker_threads'

register()
const { broadcastChannelTransport } = await import('../../src/transports/broadcast-channel.js')

const { channel, id } = workerData
const transport = broadcastChannelTransport(channel, { id })
let frames = 0
const listening = await transport.listen((conn) => {
  conn.onFrame((frame) => {
    frames++
    void conn.send(frame)
  })
})
parentPort.on('message', async (msg) => {
  if (msg !== 'stop') return
  await listening.close()
  await transport.close()
  parentPort.postMessage({ stopped: true, frames })
})
parentPort.postMessage({ ready: listening.addresses[0] })
