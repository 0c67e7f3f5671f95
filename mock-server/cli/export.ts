/**
 * `modelport export <model>[@version|@alias] --format triton|tf-serving|kserve --out DIR`: the
 * server's export (a tar.gz) unpacked into DIR, after checking every entry is a plain file or
 * folder inside it.
 */
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { Command, Option } from 'commander';
import type { ExportFormat, Modelport } from 'modelport';
import type { ReadEntry } from 'tar';
import { kib, table, UsageError } from './output';
import type { Context } from './registry';

const FORMATS: readonly ExportFormat[] = ['triton', 'tf-serving', 'kserve'];

interface ArchiveEntry {
  path: string;
  type: 'File' | 'Directory';
  size: number;
}

export function exportCommand(context: Context): Command {
  return new Command('export')
    .description('export a model version (or every version an alias points at) as a Triton, TF Serving or KServe repository')
    .argument('<model>', 'model, model@version or model@alias (default: the production alias, else the newest version)')
    .addOption(new Option('--format <format>', 'the server the repository is for').choices(FORMATS).makeOptionMandatory())
    .requiredOption('--out <dir>', 'the folder to write the repository into (created if missing; must be empty)')
    .option(
      '--storage-uri <uri>',
      'kserve: where the repository will be copied (the InferenceService storageUri, e.g. s3://bucket/models/iris)',
    )
    .option('--force', 'write into a folder that is not empty', false)
    .action(async (spec: string, options: { format: ExportFormat; out: string; storageUri?: string; force: boolean }) => {
      const { client, out } = context();
      const [model, asked] = splitSpec(spec);
      if (options.format === 'kserve' && !options.storageUri) throw new UsageError('--format kserve needs --storage-uri');
      if (options.format !== 'kserve' && options.storageUri) throw new UsageError(`--storage-uri is for --format kserve only`);
      const dir = path.resolve(options.out);
      await checkOutputFolder(dir, options.force);
      const versionOrAlias = asked ?? (await defaultVersion(client, model));
      if (!out.json) console.error(`exporting ${model}@${versionOrAlias} for ${options.format}…`);
      const archive = await client.models.export(model, versionOrAlias, { format: options.format, storageUri: options.storageUri });
      const entries = await listArchive(archive);
      await extract(archive, dir);
      const files = entries.filter((e) => e.type === 'File').map(({ path: file, size }) => ({ path: file, size }));
      out.result({ model, version: versionOrAlias, format: options.format, out: dir, files }, () =>
        [
          table(
            ['FILE', 'SIZE'],
            files.map((f) => [f.path, f.size < 1024 ? `${f.size} B` : kib(f.size)]),
          ),
          '',
          `${model}@${versionOrAlias} exported for ${options.format} to ${dir} (${files.length} files); see README.txt there`,
        ].join('\n'),
      );
    });
}

/** `iris@2` → ['iris', '2']; `iris` → ['iris', undefined]. */
function splitSpec(spec: string): [string, string | undefined] {
  const at = spec.indexOf('@');
  if (at < 0) return [spec, undefined];
  const [model, version] = [spec.slice(0, at), spec.slice(at + 1)];
  if (!model || !version) throw new UsageError(`'${spec}' is not model, model@version or model@alias`);
  return [model, version];
}

/** What unversioned requests use: the `production` alias when the model has one, else its newest version. */
async function defaultVersion(client: Modelport, model: string): Promise<string> {
  const found = await client.models.get(model);
  if (found.aliases.production) return 'production';
  if (found.latest_version === undefined) throw new UsageError(`model '${model}' has no versions to export`);
  return String(found.latest_version);
}

async function checkOutputFolder(dir: string, force: boolean): Promise<void> {
  const present = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw new UsageError(`cannot use ${dir} as the output folder (${error.code})`);
  });
  if (present.length && !force) throw new UsageError(`${dir} is not empty (${present.length} entries); give an empty folder, or --force`);
}

/** Every entry of the archive; anything but a plain file or folder at a relative path inside the output is refused, before any is written. */
async function listArchive(archive: Uint8Array): Promise<ArchiveEntry[]> {
  const { Parser } = await tarModule();
  const entries: ArchiveEntry[] = [];
  return new Promise((resolve, reject) => {
    let refused: Error | undefined;
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        const why = unsafe(entry);
        if (why) refused ??= new Error(`the server's archive has ${why}; nothing was written`);
        else entries.push({ path: entry.path.replace(/\/$/, ''), type: entry.type as ArchiveEntry['type'], size: entry.size ?? 0 });
        entry.resume();
      },
    });
    parser.on('error', (error: Error) => reject(new Error(`the server's archive cannot be read: ${error.message}`)));
    parser.on('end', () => (refused ? reject(refused) : resolve(entries)));
    parser.end(Buffer.from(archive.buffer, archive.byteOffset, archive.byteLength));
  });
}

/** Loaded by the command that uses it: `modelport serve` starts without it. */
const tarModule = () => import('tar');

function unsafe(entry: ReadEntry): string | undefined {
  if (entry.type !== 'File' && entry.type !== 'Directory') return `a ${entry.type} entry '${entry.path}' (only files and folders)`;
  const parts = entry.path.replace(/\/$/, '').split('/');
  if (path.posix.isAbsolute(entry.path) || /^[A-Za-z]:/.test(entry.path) || parts.some((p) => p === '..' || p === '' || p.includes('\\')))
    return `the path '${entry.path}', which is not inside the output folder`;
  return undefined;
}

async function extract(archive: Uint8Array, dir: string): Promise<void> {
  const { Unpack } = await tarModule();
  await mkdir(dir, { recursive: true });
  await new Promise<void>((resolve, reject) => {
    const unpack = new Unpack({
      cwd: dir,
      strict: true,
      preservePaths: false,
      filter: (_path, entry) => 'type' in entry && (entry.type === 'File' || entry.type === 'Directory'),
    });
    unpack.on('error', reject);
    unpack.on('finish', () => resolve());
    unpack.end(Buffer.from(archive.buffer, archive.byteOffset, archive.byteLength));
  });
}
