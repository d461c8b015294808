import { fileURLToPath } from 'node:url'
import { playwright } from '@vitest/browser-playwright'
import { defineConfig } from 'vitest/config'

// Debian's Chromium, never a downloaded browser (the machine reaches no browser CDN).
const CHROMIUM = process.env.STATEFLOW_CHROMIUM ?? '/usr/bin/chromium'

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
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Crash-safety suites spawn child processes; two workers match the two cores.
    maxWorkers: 2,
    projects: [
      {
        extends: true,
        test: { name: 'node', include: ['test/**/*.test.ts'], exclude: ['test/browser/**'] },
      },
      {
        // Browser code in real Chromium: the store and transport suites on IndexedDB and
        // BroadcastChannel as the browser implements them.
        extends: true,
        test: {
          name: 'chromium',
          include: ['test/browser/**/*.test.ts'],
          browser: {
            enabled: true,
            headless: true,
            provider: playwright({ launchOptions: { executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] } }),
            instances: [{ browser: 'chromium' }],
          },
        },
      },
    ],
  },
})
