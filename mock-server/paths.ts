/**
 * Where the package's own files are, whether this code runs from source (mock-server/*.ts via
 * tsx or vitest) or from the tsup bundle (dist/mock-server/*.js): the package root is the
 * nearest folder up whose package.json is modelport's.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

function findRoot(): string {
  for (let dir = here; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === 'modelport') return dir;
    if (path.dirname(dir) === dir) throw new Error(`cannot find modelport's package.json above ${here}`);
  }
}

export const PACKAGE_ROOT = findRoot();
export const PACKAGE_VERSION: string = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')).version;
export const SPEC_PATH = path.join(PACKAGE_ROOT, 'openapi.yaml');
export const BUNDLED_MODELS_DIR = path.join(PACKAGE_ROOT, 'mock-server', 'models');
/** True when running from the tsup bundle rather than the TypeScript sources. */
export const RUNNING_BUILT = !import.meta.url.endsWith('.ts');
export const TRAINING_WORKER = RUNNING_BUILT
  ? path.join(PACKAGE_ROOT, 'dist', 'mock-server', 'training', 'worker.js')
  : path.join(PACKAGE_ROOT, 'mock-server', 'training', 'worker.ts');
