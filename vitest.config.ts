import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the TypeScript sources; the built dist is checked by publint/attw.
    alias: [
      { find: /^@holdfast\/core\/internal$/, replacement: `${root}packages/core/src/internal.ts` },
      { find: /^@holdfast\/([a-z-]+)$/, replacement: `${root}packages/$1/src/index.ts` },
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
