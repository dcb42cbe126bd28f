import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

// HOLDFAST_UNDICI=8 runs the same suite (sources and tests) against undici 8, installed as the `undici8` alias
// (it needs Node >= 22.19: .ci/run sets it on the Node 22 and 24 legs). Anything else: the lockfile's undici 7.
const undiciMajor = process.env.HOLDFAST_UNDICI ?? '7';
if (undiciMajor !== '7' && undiciMajor !== '8') throw new Error(`HOLDFAST_UNDICI must be 7 or 8, got ${undiciMajor}`);
const undiciAlias = undiciMajor === '8' ? [{ find: /^undici$/, replacement: createRequire(import.meta.url).resolve('undici8') }] : [];

export default defineConfig({
  resolve: {
    // Tests run against the TypeScript sources; the built dist is checked by publint/attw.
    alias: [
      { find: /^@holdfast\/core\/internal$/, replacement: `${root}packages/core/src/internal.ts` },
      { find: /^@holdfast\/([a-z-]+)$/, replacement: `${root}packages/$1/src/index.ts` },
      ...undiciAlias,
    ],
  },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    // The mongoose suite's run against a real server exists only where one is given (MONGODB_URI): no skipped tests otherwise.
    exclude: [
      '**/node_modules/**',
      'test/bench/**',
      ...(process.env.MONGODB_URI === undefined ? ['packages/mongoose/test/real-server.test.ts'] : []),
    ],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    pool: 'forks',
    coverage: {
      provider: 'v8',
      include: ['packages/*/src/**/*.ts'],
      reporter: ['text-summary', 'json-summary', 'json'],
      reportsDirectory: 'coverage',
    },
  },
});
