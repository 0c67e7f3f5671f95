/**
 * What the server serves, kept in step with the repository on disk: every model, its config,
 * and every version as a ServedVersion. Resolves which version a request goes to, and carries
 * out registry changes (disk first, then memory) so serving follows the registry live. The
 * registry (registry/) and TensorFlow (runtime/) meet here, not in each other.
 */
import { conflict, notFound, unavailable } from '../http/errors';
import type { AliasTarget, ModelConfig, VersionInfo } from '../registry/model-config';
import type { Repository } from '../registry/repository';
import type { Runtime } from '../runtime/backend';
import type { LoadedModel } from '../runtime/loader';
import { ServedVersion } from '../runtime/served-version';

export { ServedVersion } from '../runtime/served-version';

interface ModelEntry {
  config: ModelConfig;
  versions: Map<string, ServedVersion>;
}

export class ModelManager {
  private readonly models = new Map<string, ModelEntry>();

  constructor(
    private readonly runtime: Runtime,
    readonly repository: Repository,
  ) {}

  /**
   * Reads every model and loads every version, all at once: file reads overlap, and TensorFlow's
   * synchronous work (sessions, first runs) interleaves. A version that fails stays UNAVAILABLE
   * with its reason.
   */
  async loadAll(): Promise<void> {
    const names = await this.repository.modelNames();
    const found = await Promise.all(
      names.map(async (name) => ({
        name,
        config: await this.repository.readConfig(name),
        infos: await this.repository.listVersions(name),
      })),
    );
    const loads: Promise<void>[] = [];
    for (const { name, config, infos } of found) {
      const entry: ModelEntry = { config, versions: new Map() };
      this.models.set(name, entry);
      for (const info of infos) {
        const served = new ServedVersion(entry, info, this.runtime);
        entry.versions.set(served.version, served);
        loads.push(
          served.load(this.repository.versionDir(name, served.version)).catch((error) => {
            console.warn(`[modelport] model '${name}' version ${served.version} did not load: ${(error as Error).message}`);
          }),
        );
      }
    }
    await Promise.all(loads);
  }

  modelNames(): string[] {
    return [...this.models.keys()].sort();
  }

  has(name: string): boolean {
    return this.models.has(name);
  }

  config(name: string): ModelConfig {
    return this.entry(name).config;
  }

  versions(name: string): ServedVersion[] {
    return [...this.entry(name).versions.values()].sort((a, b) => a.info.version - b.info.version);
  }

  /**
   * The version a request goes to: an explicit number, an alias (weighted targets pick at
   * random by weight), else `production`, else the newest READY version.
   */
  resolve(name: string, versionOrAlias?: string): ServedVersion {
    const { config, versions } = this.entry(name);
    if (versionOrAlias !== undefined) {
      const direct = versions.get(versionOrAlias);
      if (direct) return direct;
      const alias = aliasTargets(config, versionOrAlias);
      if (!alias) throw notFound(`model '${name}' has no version or alias '${versionOrAlias}'`, 'version_not_found');
      return this.pickWeighted(name, alias);
    }
    if (config.aliases?.production) return this.pickWeighted(name, config.aliases.production);
    const all = this.versions(name);
    const newest = all.filter((v) => v.state === 'READY').at(-1) ?? all.at(-1);
    if (!newest) throw unavailable(`model '${name}' has no versions yet`, 1, 'model_not_ready');
    return newest;
  }

  exactVersion(name: string, version: string | number): ServedVersion {
    const served = this.entry(name).versions.get(String(version));
    if (!served) throw notFound(`model '${name}' has no version ${version}`, 'version_not_found');
    return served;
  }

  async load(name: string, version?: string): Promise<ServedVersion[]> {
    const targets = version === undefined ? this.versions(name) : [this.exactVersion(name, version)];
    for (const served of targets) await served.load(this.repository.versionDir(name, served.version));
    return targets;
  }

  unload(name: string, version?: string): ServedVersion[] {
    const targets = version === undefined ? this.versions(name) : [this.exactVersion(name, version)];
    for (const served of targets) served.unload();
    return targets;
  }

  all(): ServedVersion[] {
    return this.modelNames().flatMap((name) => this.versions(name));
  }

  dispose(): void {
    for (const served of this.all()) served.unload();
  }

  /** Back to the bundled models: everything else in the repository is removed. */
  async reset(): Promise<void> {
    this.dispose();
    this.models.clear();
    await this.repository.resetToBundled();
    await this.loadAll();
  }

  // ---- registry changes: disk first (atomically), then memory ----

  /** Under the name's lock, so that a deletion of an earlier model of that name is done first. */
  createModel(config: ModelConfig): Promise<ModelConfig> {
    return this.repository.withLock(config.name, async () => {
      await this.repository.createModel(config);
      this.models.set(config.name, { config, versions: new Map() });
      return config;
    });
  }

  /** Read-modify-write of a model's config.json under the model's lock. */
  updateConfig(name: string, change: (config: ModelConfig) => ModelConfig): Promise<ModelConfig> {
    this.entry(name); // 404 before waiting
    return this.repository.withLock(name, async () => {
      // The model as it is once the lock is ours (it may have been deleted or replaced meanwhile).
      const entry = this.entry(name);
      const next = { ...change(structuredClone(entry.config)), name, updated_at: new Date().toISOString() };
      await this.repository.writeConfig(next);
      entry.config = next;
      return next;
    });
  }

  async deleteModel(name: string): Promise<void> {
    const entry = this.entry(name);
    await this.repository.withLock(name, async () => {
      if (this.models.get(name) !== entry) throw notFound(`model '${name}' not found`, 'model_not_found'); // deleted meanwhile
      await this.repository.deleteModel(name);
      // In the lock: a model created under the same name next must not be forgotten in its place.
      if (this.models.get(name) === entry) this.models.delete(name);
    });
    for (const served of entry.versions.values()) served.unload();
  }

  /** Commits a staged, checked upload as the next version and serves the model loaded while checking it. */
  async addVersion(name: string, staged: string, info: Omit<VersionInfo, 'version'>, loaded: LoadedModel): Promise<ServedVersion> {
    const entry = this.entry(name);
    let committed: VersionInfo;
    try {
      committed = await this.repository.commitVersion(name, staged, info);
    } catch (error) {
      loaded.dispose();
      // The model was deleted while the upload was checked: its folder, and the staged upload in it, went with it.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT' && this.models.get(name) !== entry)
        throw notFound(`model '${name}' was deleted while the version was uploaded`, 'model_not_found');
      throw error;
    }
    const served = new ServedVersion(entry, committed, this.runtime);
    entry.versions.set(served.version, served);
    served.adopt(loaded);
    return served;
  }

  async deleteVersion(name: string, version: number): Promise<void> {
    const served = this.exactVersion(name, version);
    await this.repository.withLock(name, async () => {
      const entry = this.entry(name);
      if (entry.versions.get(served.version) !== served) throw notFound(`model '${name}' has no version ${version}`, 'version_not_found');
      const holders = aliasesPointingAt(entry.config, version);
      if (holders.length) {
        throw conflict(
          `version ${version} of '${name}' is what alias${holders.length > 1 ? 'es' : ''} '${holders.join("', '")}' point${holders.length > 1 ? '' : 's'} at; move the alias first`,
          'version_in_use',
        );
      }
      await this.repository.deleteVersion(name, version);
      // In the lock: an alias set next must not find the version still there.
      entry.versions.delete(served.version);
    });
    served.unload();
  }

  async setAlias(name: string, alias: string, targets: AliasTarget[]): Promise<AliasTarget[]> {
    for (const target of targets) this.exactVersion(name, target.version);
    const config = await this.updateConfig(name, (c) => {
      // Again under the lock: a version deleted while this waited must not become a target.
      for (const target of targets) this.exactVersion(name, target.version);
      return { ...c, aliases: { ...c.aliases, [alias]: targets } };
    });
    return config.aliases![alias]!;
  }

  async deleteAlias(name: string, alias: string): Promise<void> {
    if (!aliasTargets(this.entry(name).config, alias)) throw notFound(`model '${name}' has no alias '${alias}'`, 'alias_not_found');
    await this.updateConfig(name, (c) => {
      const { [alias]: _removed, ...rest } = c.aliases ?? {};
      return { ...c, aliases: rest };
    });
  }

  private pickWeighted(name: string, targets: AliasTarget[]): ServedVersion {
    const total = targets.reduce((n, t) => n + t.weight, 0);
    let roll = Math.random() * total;
    const chosen = targets.find((t) => (roll -= t.weight) < 0) ?? targets.at(-1)!;
    return this.exactVersion(name, chosen.version);
  }

  private entry(name: string): ModelEntry {
    const entry = this.models.get(name);
    if (!entry) throw notFound(`model '${name}' not found`, 'model_not_found');
    return entry;
  }
}

/**
 * What an alias points at, if the model has it. An own-property lookup: alias names come from
 * requests, and `constructor` or `toString` must not find Object.prototype's members.
 */
export function aliasTargets(config: ModelConfig, alias: string): AliasTarget[] | undefined {
  return config.aliases && Object.hasOwn(config.aliases, alias) ? config.aliases[alias] : undefined;
}

export function aliasesPointingAt(config: ModelConfig, version: number): string[] {
  return Object.entries(config.aliases ?? {})
    .filter(([, targets]) => targets.some((t) => t.version === version))
    .map(([alias]) => alias);
}
