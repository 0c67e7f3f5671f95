/**
 * The model repository on disk: one folder per model holding config.json, one folder per
 * version holding the artifacts. A server pointed at a directory serves what it finds; an
 * empty directory is seeded with the bundled models.
 */
import { cp, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModelConfig } from './model-config';

export const BUNDLED_MODELS_DIR = fileURLToPath(new URL('../models/', import.meta.url));
const CONFIG_FILE = 'config.json';

export class Repository {
  readonly modelsDir: string;

  constructor(readonly dataDir: string) {
    this.modelsDir = path.join(dataDir, 'models');
  }

  /** Opens the repository, copying the bundled models in when it has none yet. */
  static async open(dataDir: string, options: { seed?: boolean } = {}): Promise<Repository> {
    const repository = new Repository(path.resolve(dataDir));
    await mkdir(repository.modelsDir, { recursive: true });
    if (options.seed !== false && (await repository.modelNames()).length === 0) await repository.seedBundled();
    return repository;
  }

  async seedBundled(): Promise<void> {
    for (const name of await modelFolders(BUNDLED_MODELS_DIR)) {
      await cp(path.join(BUNDLED_MODELS_DIR, name), path.join(this.modelsDir, name), { recursive: true });
    }
  }

  async modelNames(): Promise<string[]> {
    return modelFolders(this.modelsDir);
  }

  async readConfig(name: string): Promise<ModelConfig> {
    const config = JSON.parse(await readFile(path.join(this.modelsDir, name, CONFIG_FILE), 'utf8')) as ModelConfig;
    return { ...config, name };
  }

  versionDir(name: string, version: string | number): string {
    return path.join(this.modelsDir, name, String(version));
  }
}

/** Folders that hold a config.json (anything else, such as temp folders, is not a model). */
async function modelFolders(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const names: string[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const hasConfig = await stat(path.join(dir, entry.name, CONFIG_FILE)).then(() => true, () => false);
    if (hasConfig) names.push(entry.name);
  }
  return names.sort();
}
