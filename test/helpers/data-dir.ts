/** Temporary model repositories for tests: copies of bundled models or fixtures with edited configs. */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BUNDLED = fileURLToPath(new URL('../../mock-server/models/', import.meta.url));

export async function tempDataDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'modelport-test-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Copies a model folder into `<dataDir>/models/<name>` and applies `edit` to its config. */
export async function addModel(dataDir: string, name: string, from: string, edit: (config: any) => any = (c) => c): Promise<void> {
  const target = path.join(dataDir, 'models', name);
  await cp(from, target, { recursive: true });
  const configFile = path.join(target, 'config.json');
  const config = JSON.parse(await readFile(configFile, 'utf8').catch(() => '{}'));
  await writeFile(configFile, JSON.stringify({ ...edit(config), name }, null, 2));
}
