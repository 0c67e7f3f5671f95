/**
 * The model repository on disk, readable and editable by a person:
 *
 *   <dataDir>/models/<model>/config.json        what the model is, its aliases
 *   <dataDir>/models/<model>/last-version.json  the highest version number it ever had
 *   <dataDir>/models/<model>/<n>/version.json   version n's signature and metrics
 *   <dataDir>/models/<model>/<n>/...            its artifacts (model.json + shards, or a SavedModel)
 *
 * Every change becomes visible in one rename (see atomic.ts), so a crash leaves each model and
 * version complete or absent. A server pointed at a directory serves what it finds; an empty
 * directory is seeded with the bundled models.
 *
 * Version numbers are never reused (as in TF Serving and MLflow): a client pinned to `iris/3` must
 * never get other weights because 3 was deleted and the number handed out again. The next
 * version is one more than the highest the model ever had: last-version.json, written durably
 * before the version's folder appears, or the highest folder when that is higher (models copied
 * in by hand, or bundled). A crash between the two costs a number, never reuses one. Deleting
 * the model forgets it, and so does the test controls' reset (it puts back the bundled models).
 */
import { cp, mkdir, readdir, readFile, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { BUNDLED_MODELS_DIR } from '../server/package-paths';
import { removeAtomic, sweep, syncDir, syncTree, tempPath, writeFileAtomic } from './atomic';
import type { ModelConfig, VersionInfo } from './model-config';

export { BUNDLED_MODELS_DIR };
const CONFIG_FILE = 'config.json';
const VERSION_FILE = 'version.json';
const LAST_VERSION_FILE = 'last-version.json';
const VERSION_FOLDER = /^[1-9]\d*$/;

export class NameTakenError extends Error {}

export class Repository {
  readonly modelsDir: string;
  /** Serialises changes per model (version numbers, config rewrites) within this process. */
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(readonly dataDir: string) {
    this.modelsDir = path.join(dataDir, 'models');
  }

  /** Opens the repository: removes what a crash left half-done, and seeds the bundled models into an empty one. */
  static async open(dataDir: string, options: { seed?: boolean } = {}): Promise<Repository> {
    const repository = new Repository(path.resolve(dataDir));
    await mkdir(repository.modelsDir, { recursive: true });
    await sweep(repository.dataDir); // temporaries of files written at the top (keys.json)
    await sweep(repository.modelsDir);
    for (const name of await repository.modelNames()) await sweep(path.join(repository.modelsDir, name));
    if (options.seed !== false && (await repository.modelNames()).length === 0) await repository.seedBundled();
    return repository;
  }

  async seedBundled(): Promise<void> {
    for (const name of await foldersWith(BUNDLED_MODELS_DIR, CONFIG_FILE)) {
      const temp = tempPath(this.modelsDir);
      await cp(path.join(BUNDLED_MODELS_DIR, name), temp, { recursive: true });
      await syncTree(temp);
      await rename(temp, this.modelDir(name));
    }
    await syncDir(this.modelsDir);
  }

  /** Removes every model (each in one step) and seeds the bundled ones again. */
  async resetToBundled(): Promise<void> {
    for (const name of await this.modelNames()) await removeAtomic(this.modelDir(name));
    await this.seedBundled();
  }

  modelNames(): Promise<string[]> {
    return foldersWith(this.modelsDir, CONFIG_FILE);
  }

  modelDir(name: string): string {
    return path.join(this.modelsDir, name);
  }

  versionDir(name: string, version: number | string): string {
    return path.join(this.modelsDir, name, String(version));
  }

  async readConfig(name: string): Promise<ModelConfig> {
    const file = path.join(this.modelDir(name), CONFIG_FILE);
    const config = JSON.parse(await readFile(file, 'utf8')) as ModelConfig;
    // Hand-written configs (the bundled ones) carry no dates; the file's own stand in.
    const written = (await stat(file)).mtime.toISOString();
    return { created_at: written, updated_at: written, ...config, name };
  }

  async writeConfig(config: ModelConfig): Promise<void> {
    await writeFileAtomic(path.join(this.modelDir(config.name), CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`);
  }

  /** The complete versions of a model, oldest first. */
  async listVersions(name: string): Promise<VersionInfo[]> {
    const numbers = (await foldersWith(this.modelDir(name), VERSION_FILE)).filter((n) => VERSION_FOLDER.test(n));
    const infos = await Promise.all(numbers.map((n) => this.readVersion(name, Number(n))));
    return infos.sort((a, b) => a.version - b.version);
  }

  async readVersion(name: string, version: number): Promise<VersionInfo> {
    const file = path.join(this.versionDir(name, version), VERSION_FILE);
    const info = JSON.parse(await readFile(file, 'utf8')) as VersionInfo;
    return { created_at: (await stat(file)).mtime.toISOString(), ...info, version };
  }

  /** Creates a model folder with its config in one step; NameTakenError if it exists. */
  async createModel(config: ModelConfig): Promise<void> {
    const temp = tempPath(this.modelsDir);
    await mkdir(temp);
    await writeFileAtomic(path.join(temp, CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`);
    try {
      if (await exists(this.modelDir(config.name))) throw new NameTakenError(config.name);
      await rename(temp, this.modelDir(config.name));
    } catch (error) {
      await removeAtomic(temp).catch(() => undefined);
      if ((error as NodeJS.ErrnoException).code === 'ENOTEMPTY' || (error as NodeJS.ErrnoException).code === 'EEXIST')
        throw new NameTakenError(config.name);
      throw error;
    }
    await syncDir(this.modelsDir);
  }

  deleteModel(name: string): Promise<void> {
    return removeAtomic(this.modelDir(name));
  }

  /** A fresh folder inside the model to stage an upload in; invisible as a version until committed. */
  async stagingDir(name: string): Promise<string> {
    const dir = tempPath(this.modelDir(name));
    await mkdir(dir);
    return dir;
  }

  /**
   * Makes a staged folder the model's next version: writes version.json into it, flushes it,
   * records the number as the model's last, and renames the folder to it. Returns the version.
   */
  commitVersion(name: string, staged: string, info: Omit<VersionInfo, 'version'>): Promise<VersionInfo> {
    return this.withLock(name, async () => {
      const version = (await this.lastVersion(name)) + 1;
      const full: VersionInfo = { ...info, version };
      await writeFileAtomic(path.join(staged, VERSION_FILE), `${JSON.stringify(full, null, 2)}\n`);
      await syncTree(staged);
      // Durable before the folder appears: no later start can hand this number out again.
      await writeFileAtomic(path.join(this.modelDir(name), LAST_VERSION_FILE), `${JSON.stringify({ last_version: version })}\n`);
      await rename(staged, this.versionDir(name, version));
      await syncDir(this.modelDir(name));
      return full;
    });
  }

  deleteVersion(name: string, version: number): Promise<void> {
    return removeAtomic(this.versionDir(name, version));
  }

  /** The highest version number the model ever had (0 for none): the recorded one, or a higher folder. */
  async lastVersion(name: string): Promise<number> {
    const dir = this.modelDir(name);
    const folders = (await readdir(dir)).filter((n) => VERSION_FOLDER.test(n)).map(Number);
    const recorded = await readFile(path.join(dir, LAST_VERSION_FILE), 'utf8').then(
      (text) => {
        try {
          return Number((JSON.parse(text) as { last_version?: unknown }).last_version);
        } catch {
          return Number.NaN; // hand-edited: refused below rather than guessed
        }
      },
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return 0;
        throw error;
      },
    );
    if (!Number.isSafeInteger(recorded) || recorded < 0)
      throw new Error(`${path.join(dir, LAST_VERSION_FILE)} holds no version number; it should be {"last_version": <n>}`);
    return Math.max(recorded, ...folders);
  }

  /** Runs read-modify-write steps on one model one at a time. */
  withLock<T>(name: string, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(name) ?? Promise.resolve();
    const next = previous.then(work, work);
    this.locks.set(
      name,
      next.catch(() => undefined),
    );
    return next;
  }
}

/** Sub-folders holding `marker` (anything else, such as temporaries, is not a model or version). */
async function foldersWith(dir: string, marker: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const names: string[] = [];
  for (const entry of entries) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    if (await exists(path.join(dir, entry.name, marker))) names.push(entry.name);
  }
  return names.sort();
}

function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    () => false,
  );
}
