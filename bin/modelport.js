#!/usr/bin/env node
// The `modelport` command. In a source checkout it runs the TypeScript through tsx, so it is
// never stale; an installed package (which ships dist/, not the sources) runs the built CLI.
import { existsSync } from 'node:fs';

const source = new URL('../mock-server/cli.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import(new URL('../dist/mock-server/cli.js', import.meta.url).href);
}
