/** `modelport models|versions|alias|keys ...`: the registry and keys through the SDK. */
import { stat } from 'node:fs/promises';
import { Command } from 'commander';
import type { Modelport } from 'modelport';
import type { ModelVersion, Scope } from 'modelport';
import { parseJson, positive, split } from './flags';
import { kib, table, UsageError, type Output } from './output';

export type Context = () => { client: Modelport; out: Output };

export function modelsCommand(context: Context): Command {
  const models = new Command('models').description('list, show, create and delete models');
  models
    .command('ls')
    .description('list models')
    .option('--task <task>')
    .option('--tag <tag>')
    .option('--status <status>')
    .action(async (options) => {
      const { client, out } = context();
      const all = await client.models.list({ task: options.task, tag: options.tag, status: options.status, limit: 100 }).toArray();
      out.result(all, () =>
        table(
          ['NAME', 'TASK', 'STATUS', 'VERSIONS', 'PRODUCTION', 'TAGS'],
          all.map((m) => [
            m.name,
            m.task,
            m.status,
            m.versions.join(','),
            m.aliases.production?.map((t) => `${t.version}${m.aliases.production!.length > 1 ? `:${t.weight}` : ''}`).join(' '),
            m.tags.join(','),
          ]),
        ),
      );
    });
  models
    .command('show <model>')
    .description('a model, its versions and their metrics')
    .action(async (name) => {
      const { client, out } = context();
      const model = await client.models.get(name);
      const versions = await client.models.versions.list(name, { limit: 100 }).toArray();
      out.result({ ...model, versions }, () =>
        [
          `${model.name} (${model.task}, ${model.status})${model.description ? `: ${model.description}` : ''}`,
          `inputs:  ${(model.inputs ?? []).map((t) => `${t.name} ${t.datatype} [${t.shape}]`).join(', ')}`,
          `outputs: ${(model.outputs ?? []).map((t) => `${t.name} ${t.datatype} [${t.shape}]`).join(', ')}`,
          `aliases: ${
            Object.entries(model.aliases)
              .map(([a, ts]) => `${a} → ${ts.map((t) => `${t.version} (${t.weight})`).join(', ')}`)
              .join('; ') || 'none'
          }`,
          '',
          table(
            ['VERSION', 'STATE', 'PLATFORM', 'RUNS', 'SIZE', 'ACCURACY', 'ALIASES', 'CREATED'],
            versions.map((v) => [
              v.version,
              v.state,
              v.platform,
              runs(v),
              kib(v.size_bytes),
              typeof v.metrics?.accuracy === 'number' ? (v.metrics.accuracy as number).toFixed(4) : '',
              v.aliases.join(','),
              v.created_at,
            ]),
          ),
        ].join('\n'),
      );
    });
  models
    .command('create <model>')
    .description('register a model')
    .requiredOption('--task <task>')
    .option('--description <text>')
    .option('--labels <labels>', 'comma-separated')
    .option('--tags <tags>', 'comma-separated')
    .action(async (name, options) => {
      const { client, out } = context();
      const created = await client.models.create({
        name,
        task: options.task,
        description: options.description,
        labels: split(options.labels),
        tags: split(options.tags),
      });
      out.result(created, () => `created model ${created.name}`);
    });
  models
    .command('rm <model>')
    .description('delete a model and all its versions')
    .action(async (name) => {
      const { client, out } = context();
      await client.models.delete(name);
      out.result({ deleted: name }, () => `deleted model ${name}`);
    });
  return models;
}

export function versionsCommand(context: Context): Command {
  const versions = new Command('versions').description('upload, list and delete versions');
  versions
    .command('upload <model> <path>')
    .description('upload a TF.js model folder, a SavedModel folder, or a .zip/.tar.gz/.tar archive')
    .option('--metrics <json>', 'metrics to record, as JSON')
    .action(async (model, file, options) => {
      const { client, out } = context();
      const isDirectory = (
        await stat(file).catch(() => {
          throw new UsageError(`no such folder or archive: ${file}`);
        })
      ).isDirectory();
      const { readFile } = await import('node:fs/promises');
      const source = isDirectory ? { directory: file } : { archive: new Uint8Array(await readFile(file)), format: archiveFormat(file) };
      const metadata = options.metrics ? { metrics: parseJson(options.metrics, '--metrics') as Record<string, unknown> } : undefined;
      const version = await client.models.versions.upload(model, source, {
        ...(metadata ? { metadata } : {}),
        onProgress: out.json ? undefined : (p) => process.stderr.write(`\ruploading ${(p.percent * 100).toFixed(0)}%`),
      });
      if (!out.json) process.stderr.write('\n');
      out.result(version, () => `${model} version ${version.version}: ${version.platform}, ${version.state}, ${version.size_bytes} bytes`);
    });
  versions
    .command('ls <model>')
    .description('list versions')
    .action(async (model) => {
      const { client, out } = context();
      const all = await client.models.versions.list(model, { limit: 100 }).toArray();
      out.result(all, () =>
        table(
          ['VERSION', 'STATE', 'PLATFORM', 'RUNS', 'SIZE', 'ALIASES'],
          all.map((v) => [v.version, v.state, v.platform, runs(v), v.size_bytes, v.aliases.join(',')]),
        ),
      );
    });
  versions
    .command('rm <model> <version>')
    .description('delete a version (not one an alias points at)')
    .action(async (model, version) => {
      const { client, out } = context();
      await client.models.versions.delete(model, positive(version, 'version'));
      out.result({ deleted: { model, version: Number(version) } }, () => `deleted ${model} version ${version}`);
    });
  return versions;
}

export function aliasCommand(context: Context): Command {
  const alias = new Command('alias').description('point aliases at versions');
  alias
    .command('set <model> <alias> <targets>')
    .description('one version (2), or weighted versions for a canary (1:90,2:10)')
    .action(async (model, name, targets: string) => {
      const { client, out } = context();
      const parsed = targets.includes(':')
        ? targets.split(',').map((t) => {
            const [version, weight] = t.split(':');
            return { version: positive(version!, 'version'), weight: Number(weight) };
          })
        : positive(targets, 'version');
      const result = await client.models.aliases.set(model, name, parsed);
      out.result(result, () => `${model}: ${name} → ${result.targets.map((t) => `${t.version} (${t.weight})`).join(', ')}`);
    });
  alias
    .command('rm <model> <alias>')
    .description('remove an alias')
    .action(async (model, name) => {
      const { client, out } = context();
      await client.models.aliases.delete(model, name);
      out.result({ deleted: { model, alias: name } }, () => `removed alias ${name} of ${model}`);
    });
  return alias;
}

export function keysCommand(context: Context): Command {
  const keys = new Command('keys').description('create, list and revoke API keys (admin)');
  keys
    .command('create <name>')
    .description('create a key; its secret is printed once')
    .requiredOption('--scopes <scopes>', 'comma-separated: inference, models:read, models:write, training, admin')
    .option('--models <models>', 'comma-separated models the key may use')
    .option('--rate-limit <rps>', 'requests per second')
    .action(async (name, options) => {
      const { client, out } = context();
      const key = await client.apiKeys.create({
        name,
        scopes: split(options.scopes) as Scope[],
        ...(options.models ? { models: split(options.models) } : {}),
        ...(options.rateLimit ? { rate_limit: { requests_per_second: Number(options.rateLimit) } } : {}),
      });
      out.result(key, () => `created key ${key.id} (${key.scopes.join(', ')})\nsecret (shown once): ${key.secret}`);
    });
  keys
    .command('ls')
    .description('list keys (never their secrets)')
    .action(async () => {
      const { client, out } = context();
      const all = await client.apiKeys.list({ limit: 100 }).toArray();
      out.result(all, () =>
        table(
          ['ID', 'NAME', 'SCOPES', 'MODELS', 'CREATED', 'REVOKED'],
          all.map((k) => [k.id, k.name, k.scopes.join(','), (k.models ?? []).join(','), k.created_at, k.revoked_at]),
        ),
      );
    });
  keys
    .command('revoke <id>')
    .description('revoke a key at once')
    .action(async (id) => {
      const { client, out } = context();
      await client.apiKeys.revoke(id);
      out.result({ revoked: id }, () => `revoked key ${id}`);
    });
  return keys;
}

/** `graph` (one TensorFlow call per batch) or `ops` (one per op), as the server reports it. */
function runs(version: ModelVersion): string {
  return version.execution?.mode ?? '';
}

function archiveFormat(file: string): 'zip' | 'tar.gz' | 'tar' {
  if (file.endsWith('.zip')) return 'zip';
  if (file.endsWith('.tar.gz') || file.endsWith('.tgz')) return 'tar.gz';
  if (file.endsWith('.tar')) return 'tar';
  throw new UsageError(`'${file}' is neither a folder nor a .zip, .tar.gz or .tar archive`);
}
