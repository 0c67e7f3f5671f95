#!/usr/bin/env node
// The `modelport` command. In a source checkout it runs the TypeScript through tsx, so it is
// never stale; an installed package (which ships dist/, not the sources) runs the built CLI.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = new URL('../cli/main.ts', import.meta.url);
if (existsSync(source)) {
  // The repository's tsconfig maps `modelport` to the SDK's sources (src/), whatever the working
  // directory; the variable also reaches the training worker that the server forks with tsx.
  process.env.TSX_TSCONFIG_PATH ??= fileURLToPath(new URL('../../tsconfig.json', import.meta.url));
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import(new URL('../dist/cli.js', import.meta.url).href);
}
