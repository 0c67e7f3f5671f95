#!/usr/bin/env node
// The `modelport` command. Runs the built CLI when the package is built (as installed from
// npm); in a source checkout it runs the TypeScript directly through tsx.
import { existsSync } from 'node:fs';

const built = new URL('../dist/mock-server/cli.js', import.meta.url);
if (existsSync(built)) {
  await import(built.href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(new URL('../mock-server/cli.ts', import.meta.url).href);
}
