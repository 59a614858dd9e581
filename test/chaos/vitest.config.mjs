// The chaos suite (excluded from `npm test`): real multi-process runs, minutes each.
// npx vitest run --config test/chaos/vitest.config.mjs [test/chaos/<file>]
import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['test/chaos/**/*.test.ts'],
    testTimeout: 15 * 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
