import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  // Examples import the package by name, as users do; in this checkout that is the source.
  resolve: {
    alias: [
      { find: /^modelport\/mock-server$/, replacement: here('../mock-server/index.ts') },
      { find: /^modelport$/, replacement: here('../src/index.ts') },
    ],
  },
  test: {
    root: '.',
    include: ['test/**/*.test.ts', 'examples/**/*.test.ts'],
    // tfjs-node is a native addon; separate processes keep each file's TensorFlow state apart.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
  },
});
