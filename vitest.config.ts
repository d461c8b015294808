import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  // Examples import the package by name, as users do: point it at the sources.
  resolve: {
    alias: [
      { find: /^stateflow$/, replacement: fileURLToPath(new URL('./src/index.ts', import.meta.url)) },
      { find: /^stateflow\/stores\/sqlite$/, replacement: fileURLToPath(new URL('./src/stores/sqlite-store.ts', import.meta.url)) },
      { find: /^stateflow\/transports\/websocket-server$/, replacement: fileURLToPath(new URL('./src/transports/websocket-server.ts', import.meta.url)) },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Crash-safety suites spawn child processes; two workers match the two cores.
    maxWorkers: 2,
  },
})
