// The consumer test (npm run test:consumer): packs both packages and installs them into fresh apps.
// Apart from `npm test`, because it takes minutes (two cold native TensorFlow builds).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['test/consumer/consumer.test.ts'],
    // The suites share one build and pack; they run one after another in one process.
    fileParallelism: false,
    sequence: { concurrent: false },
    testTimeout: 900_000,
    hookTimeout: 900_000,
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/consumer.json' },
  },
});
