// Builds @modelport/server: the library entries (ESM + CJS with their .d.ts/.d.cts), the CLI and
// the child processes (training worker, upload inspection). `modelport` (the SDK) stays an import
// of the installed package.
import { defineConfig } from 'tsup';

export default defineConfig([
  {
    entry: { index: 'index.ts', msw: 'msw.ts', testing: 'testing.ts' },
    format: ['esm', 'cjs'],
    dts: true,

    shims: true,
    target: 'node20',
    platform: 'node',
    sourcemap: false,
    splitting: true,
    treeshake: true,
    external: [/^modelport(\/|$)/, 'msw'],
  },
  {
    entry: { cli: 'cli/main.ts', 'training/worker': 'training/worker.ts', 'serving/inspection-child': 'serving/inspection-child.ts' },
    format: ['esm'],
    shims: true,
    target: 'node20',
    platform: 'node',
    sourcemap: false,
    splitting: true,
    treeshake: true,
    external: [/^modelport(\/|$)/, 'msw'],
    onSuccess: 'tsx pages/build-sdk.ts && cp ../openapi.yaml openapi.yaml',
  },
]);
