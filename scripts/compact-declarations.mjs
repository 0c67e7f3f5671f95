// Run after tsup (package.json "build" and "prepack"): indents the SDK's bundled declaration files
// (dist/*.d.ts, *.d.cts) with tabs instead of runs of four spaces. They are a third of what the
// SDK installs (the generated OpenAPI types, once for ESM and once for CommonJS), and leading spaces
// are a quarter of them; an SDK-only install must stay within 1 MB (test/consumer). Only leading
// whitespace changes, which TypeScript ignores, so editors show the same types and comments.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const dist = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'dist');
let saved = 0;
for (const file of readdirSync(dist).filter((name) => /\.d\.c?ts$/.test(name))) {
  const full = path.join(dist, file);
  const text = readFileSync(full, 'utf8');
  const compact = text.replace(/^(?: {4})+/gm, (indent) => '\t'.repeat(indent.length / 4));
  saved += text.length - compact.length;
  writeFileSync(full, compact);
}
console.log(`declarations indented with tabs: ${(saved / 1024).toFixed(0)} KiB saved`);
