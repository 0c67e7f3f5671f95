/**
 * Where the server package's own files are, whether this code runs from source (mock-server/*.ts
 * via tsx or vitest) or from the tsup bundle (dist/*.js of the installed @modelport/server): the
 * package root is the nearest folder up whose package.json is @modelport/server's.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const PACKAGE_NAME = '@modelport/server';

function findRoot(): string {
  for (let dir = here; ; dir = path.dirname(dir)) {
    const manifest = path.join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).name === PACKAGE_NAME) return dir;
    if (path.dirname(dir) === dir) throw new Error(`cannot find ${PACKAGE_NAME}'s package.json above ${here}`);
  }
}

export const PACKAGE_ROOT = findRoot();
export const PACKAGE_VERSION: string = JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')).version;
/** True when running from the tsup bundle rather than the TypeScript sources. */
export const RUNNING_BUILT = !import.meta.url.endsWith('.ts');
/** The contract: the package ships a copy (written by its build); a source checkout reads the repository's own. */
export const SPEC_PATH =
  RUNNING_BUILT || !existsSync(path.join(PACKAGE_ROOT, '..', 'openapi.yaml'))
    ? path.join(PACKAGE_ROOT, 'openapi.yaml')
    : path.join(PACKAGE_ROOT, '..', 'openapi.yaml');
export const BUNDLED_MODELS_DIR = path.join(PACKAGE_ROOT, 'models');
export const TRAINING_WORKER = RUNNING_BUILT
  ? path.join(PACKAGE_ROOT, 'dist', 'training', 'worker.js')
  : path.join(PACKAGE_ROOT, 'training', 'worker.ts');
export const INSPECTION_CHILD = RUNNING_BUILT
  ? path.join(PACKAGE_ROOT, 'dist', 'serving', 'inspection-child.js')
  : path.join(PACKAGE_ROOT, 'serving', 'inspection-child.ts');
