import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

// Examples import the packages by name, as users do; in this checkout that is the source.
const alias = [
  { find: /^@modelport\/server$/, replacement: here('../mock-server/index.ts') },
  { find: /^@modelport\/server\/msw$/, replacement: here('../mock-server/msw.ts') },
  { find: /^@modelport\/server\/testing$/, replacement: here('../mock-server/testing.ts') },
  { find: /^modelport$/, replacement: here('../src/index.ts') },
  { find: /^modelport\/cassette$/, replacement: here('../src/cassette/index.ts') },
  { find: /^modelport\/replay$/, replacement: here('../src/replay/index.ts') },
  { find: /^modelport\/record$/, replacement: here('../src/record/index.ts') },
];

// Every server the tests start checks every response against openapi.yaml (see
// mock-server/contract/response-validation.ts); a response that does not match fails its test file and the run.
const env = { MODELPORT_VALIDATE_RESPONSES: path.join(os.tmpdir(), `modelport-response-violations-${process.pid}.jsonl`) };
const responseChecks = { env, setupFiles: [here('./setup/response-validation.ts')] };
const violationsGlobal = here('./setup/response-violations-global.ts');

export default defineConfig({
  resolve: { alias },
  test: {
    root: here('..'),
    // tfjs-node is a native addon; separate processes keep each file's TensorFlow state apart.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'modelport',
          include: ['test/**/*.test.ts', 'examples/**/*.test.ts'],
          // test/consumer runs on its own (npm run test:consumer): it packs and installs the packages.
          exclude: ['examples/test-with-global-setup/**', 'test/consumer/**', 'test/attacks/**'],
          globalSetup: [violationsGlobal],
          ...responseChecks,
          pool: 'forks',
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        resolve: { alias },
        test: {
          // The test-with-global-setup example runs as a user's project would: with its own globalSetup.
          name: 'example: global setup',
          include: ['examples/test-with-global-setup/**/*.test.ts'],
          globalSetup: [violationsGlobal, here('../mock-server/testing.ts')],
          ...responseChecks,
          pool: 'forks',
        },
      },
      {
        resolve: { alias },
        test: {
          // Attacks run one at a time after everything else: each checks the event-loop delay and
          // memory its server measured, which other tests' load on these 2 cores must not disturb.
          name: 'attacks',
          include: ['test/attacks/**/*.attack.test.ts'],
          globalSetup: [violationsGlobal],
          ...responseChecks,
          pool: 'forks',
          fileParallelism: false,
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
