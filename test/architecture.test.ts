/**
 * mock-server/ARCHITECTURE.md stays true to the tree: every folder it names exists, every source
 * folder of the server and the SDK is named in it, its layer table is the list that
 * `npm run lint:deps` enforces (LAYERS in .ci/dependency-cruiser.cjs), and no source file grows
 * past a size a reader can hold in mind. No server runs here.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DOC = 'mock-server/ARCHITECTURE.md';
const doc = readFileSync(path.join(ROOT, DOC), 'utf8');
const { LAYERS } = createRequire(import.meta.url)('../.ci/dependency-cruiser.cjs') as {
  LAYERS: { name: string; paths: string[] }[];
};

/** Build output, installed packages, vendored third-party code and the bundled models' versions. */
const SKIPPED = new Set(['dist', 'node_modules', 'vendor']);
const SOURCE_FILE = /\.(ts|mts|cts|js|mjs|cjs)$/;

/** Folders under `top` (repository-relative, '/'-terminated) that hold at least one file themselves. */
function folders(top: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    const entries = readdirSync(path.join(ROOT, dir), { withFileTypes: true });
    if (dir !== top && entries.some((e) => e.isFile())) found.push(dir);
    for (const e of entries) {
      if (!e.isDirectory() || SKIPPED.has(e.name) || e.name.startsWith('.')) continue;
      if (dir === 'mock-server/models/') {
        continue; // one folder per model and version: data, named as mock-server/models/
      }
      walk(`${dir}${e.name}/`);
    }
  };
  walk(top);
  return found;
}

/** Source files under `top`, repository-relative. */
function sourceFiles(top: string): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = `${dir}${e.name}`;
      if (e.isDirectory()) {
        if (!SKIPPED.has(e.name) && !e.name.startsWith('.') && rel !== 'mock-server/models' && rel !== 'src/generated') walk(`${rel}/`);
      } else if (SOURCE_FILE.test(e.name)) {
        found.push(rel);
      }
    }
  };
  walk(top);
  return found;
}

/** Repository-relative folders the page names in backticks: `mock-server/http/`, `src/core/`. */
const namedFolders = [...new Set([...doc.matchAll(/`((?:mock-server|src)\/(?:[\w.-]+\/)*)`/g)].map((m) => m[1]!))];

describe('mock-server/ARCHITECTURE.md', () => {
  it('names only folders that exist', () => {
    expect(namedFolders.length).toBeGreaterThan(10);
    const missing = namedFolders.filter(
      (folder) => !existsSync(path.join(ROOT, folder)) || !statSync(path.join(ROOT, folder)).isDirectory(),
    );
    expect(missing, `${DOC} names folders that do not exist`).toEqual([]);
  });

  it('names every source folder of the server and the SDK', () => {
    const unnamed = [...folders('mock-server/'), ...folders('src/')].filter((folder) => !namedFolders.includes(folder));
    expect(unnamed, `folders missing from ${DOC}'s "Who owns what"`).toEqual([]);
  });

  it('shows the layers that npm run lint:deps enforces (LAYERS in .ci/dependency-cruiser.cjs)', () => {
    const section = doc.slice(doc.indexOf('## The layers'), doc.indexOf('## One request'));
    const rows = [...section.matchAll(/^\| (\d+) \| ([^|]+) \| ([^|]+) \|$/gm)].map((m) => ({
      name: m[2]!.trim(),
      paths: [...m[3]!.matchAll(/`([^`]+)`/g)].map((p) => p[1]!),
    }));
    expect(rows).toEqual(LAYERS.map(({ name, paths }) => ({ name, paths })));
  });

  it('layers list only paths that exist', () => {
    const missing = LAYERS.flatMap((layer) => layer.paths).filter((p) => !existsSync(path.join(ROOT, 'mock-server', p)));
    expect(missing, 'paths in LAYERS (.ci/dependency-cruiser.cjs) and the layer table that do not exist').toEqual([]);
  });
});

describe('source file size', () => {
  const LIMIT = 500;
  /** Files allowed past the limit, each with its own ceiling (as formatted at width 140) and why. */
  const CEILINGS: Record<string, number> = {
    // The playground's browser code: one plain script the page loads without a build step.
    'mock-server/pages/assets/playground/app.js': 800,
    // Plain JavaScript run by the package's postinstall, before anything is compiled.
    'mock-server/runtime/native/prepare.mjs': 560,
  };

  it(`no source file in src/ or mock-server/ is over ${LIMIT} lines (generated code aside)`, () => {
    const over = [...sourceFiles('src/'), ...sourceFiles('mock-server/')]
      .map((file) => ({ file, lines: readFileSync(path.join(ROOT, file), 'utf8').split('\n').length - 1 }))
      .filter(({ file, lines }) => lines > (CEILINGS[file] ?? LIMIT))
      .map(({ file, lines }) => `${file}: ${lines} lines (limit ${CEILINGS[file] ?? LIMIT})`);
    expect(over).toEqual([]);
  });
});
