/**
 * openapi.yaml, parsed. The YAML parser takes 0.2-0.9 s for its 150 KB on these machines (a
 * third of the server's start-up), JSON.parse of the same document a few milliseconds: so the
 * parsed spec is kept as JSON under node_modules/.cache/modelport, named by a hash of the YAML
 * text. Only the first start after the spec changes parses YAML; when the cache cannot be
 * written (read-only install) every start parses it, as before.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { PACKAGE_ROOT } from '../server/package-paths';

const CACHE_DIR = path.join(PACKAGE_ROOT, 'node_modules', '.cache', 'modelport');

export function parseSpec(text: string): any {
  const file = path.join(CACHE_DIR, `openapi-${createHash('sha256').update(text).digest('hex').slice(0, 32)}.json`);
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    // not cached yet
  }
  // Loaded only here: with the cache warm, the YAML library is not even imported.
  const { parse } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  const spec = parse(text);
  try {
    const json = JSON.stringify(spec);
    // Only a document JSON holds exactly (no dates, no infinities) is cached.
    if (isDeepStrictEqual(JSON.parse(json), spec)) {
      mkdirSync(CACHE_DIR, { recursive: true });
      const temporary = `${file}.${process.pid}.tmp`;
      writeFileSync(temporary, json);
      renameSync(temporary, file);
    }
  } catch {
    // no cache then
  }
  return spec;
}
