/**
 * Which files an export holds, and where (openapi.yaml's `exportModel` documents the same layout):
 *
 * - triton: `<model>/config.pbtxt`, `<model>/labels.txt` (labels), `<model>/<n>/model.savedmodel/…`;
 * - tf-serving: `<model>/<n>/…` (SavedModels) and `models.config`;
 * - kserve: the Triton repository under `repository/` and `inferenceservice.yaml`; for an alias of two
 *   targets (a canary) `stable/<model>/…` (the older version) and `canary/<model>/…` (the newer), and
 *   the two manifests kserveManifests names;
 *
 * and a README.txt saying what to run. Each version becomes a SavedModel (saved-model-export.ts);
 * the configs come from the pure generators beside this file.
 */
import type { components } from 'modelport';
import { HttpError } from '../http/errors';
import type { AliasTarget, ModelConfig, ServingConfig } from '../registry/model-config';
import type { Runtime } from '../runtime/backend';
import type { ExportTensor } from './export-input';
import type { RepositoryWriter } from './repository-archive';
import { KSERVE_CANARY_DIR, KSERVE_STABLE_DIR, kserveCanary, kserveManifests } from './kserve-manifests';
import { readme } from './repository-readme';
import { exportSavedModel } from './saved-model-export';
import { tfServingModelConfig } from './tf-serving-config';
import { TRITON_LABEL_FILE, tritonLabelFile, tritonModelConfig } from './triton-config';

export type ExportFormat = components['schemas']['ExportFormat'];

/** One version to export: its serving config (signature, batching, labels) and its folder in the repository. */
export interface ExportedVersion {
  config: ServingConfig;
  dir: string;
}

export interface RepositoryRequest {
  format: ExportFormat;
  model: ModelConfig;
  /** One version, or every target of `alias`; oldest first. */
  versions: ExportedVersion[];
  /** The alias the export was asked for by. */
  alias?: { name: string; targets: AliasTarget[] };
  /** kserve: where the repository will be copied (no trailing slash). */
  storageUri?: string;
}

/** Writes the request's repository: every SavedModel converted first, then the configs and the README. */
export async function writeRepository(runtime: Runtime, request: RepositoryRequest, writer: RepositoryWriter): Promise<void> {
  const { format, model } = request;
  if (format === 'triton') {
    await tritonRepository(runtime, writer, '', model.name, request.versions);
    await writer.add({ path: 'README.txt', data: readme.triton(model.name) });
  } else if (format === 'tf-serving') {
    for (const version of request.versions) await savedModel(runtime, writer, `${model.name}/${version.config.info.version}`, version);
    const config = tfServingModelConfig({ name: model.name, versions: numbers(request.versions), aliases: model.aliases ?? {} });
    await writer.add({ path: 'models.config', data: config });
    await writer.add({ path: 'README.txt', data: readme.tfServing(model.name) });
  } else {
    await kserveRepository(runtime, writer, request);
  }
}

async function kserveRepository(runtime: Runtime, writer: RepositoryWriter, request: RepositoryRequest): Promise<void> {
  const { model, versions, alias } = request;
  const targets = alias?.targets ?? versions.map((v) => ({ version: v.config.info.version, weight: 100 }));
  // Manifests first: an alias KServe cannot roll out (more than two targets) is refused before any conversion.
  const manifests = kserveManifests({
    model: model.name,
    storageUri: request.storageUri!,
    targets,
    ...(alias ? { alias: alias.name } : {}),
  });
  if (versions.length === 1) {
    await tritonRepository(runtime, writer, 'repository/', model.name, versions);
  } else {
    const { stable, canary } = kserveCanary(model.name, alias!.name, targets);
    const version = (n: number) => versions.filter((v) => v.config.info.version === n);
    await tritonRepository(runtime, writer, `${KSERVE_STABLE_DIR}/`, model.name, version(stable.version));
    await tritonRepository(runtime, writer, `${KSERVE_CANARY_DIR}/`, model.name, version(canary.version));
  }
  for (const manifest of manifests) await writer.add({ path: manifest.file, data: manifest.yaml });
  await writer.add({
    path: 'README.txt',
    data: readme.kserve(
      model.name,
      manifests.map((m) => m.file),
      versions.length === 2,
      request.storageUri!,
    ),
  });
}

/** A Triton model repository at `prefix`: `<model>/config.pbtxt`, `<model>/labels.txt` and each version's SavedModel. */
async function tritonRepository(runtime: Runtime, writer: RepositoryWriter, prefix: string, name: string, versions: ExportedVersion[]) {
  for (const version of versions)
    await savedModel(runtime, writer, `${prefix}${name}/${version.config.info.version}/model.savedmodel`, version);
  const newest = versions.at(-1)!.config;
  const differing = versions.find((v) => !sameSignature(v.config, newest));
  if (differing) {
    throw new HttpError(
      422,
      'not_exportable',
      `${name} versions ${differing.config.info.version} and ${newest.info.version} have different inputs or outputs, and a Triton model has one configuration for all its versions: export them one by one`,
    );
  }
  const labels = newest.labels ?? [];
  const config = tritonModelConfig({
    name,
    inputs: tensors(newest.inputs),
    outputs: tensors(newest.outputs),
    ...(newest.batching ? { batching: newest.batching } : {}),
    versions: numbers(versions),
    ...(labels.length ? { labels } : {}),
  });
  await writer.add({ path: `${prefix}${name}/config.pbtxt`, data: config });
  if (labels.length) await writer.add({ path: `${prefix}${name}/${TRITON_LABEL_FILE}`, data: tritonLabelFile(labels) });
}

/** One version as a SavedModel folder at `at`. */
async function savedModel(runtime: Runtime, writer: RepositoryWriter, at: string, version: ExportedVersion): Promise<void> {
  const exported = await exportSavedModel(runtime, version.config, version.dir);
  for (const file of exported.files) await writer.add({ ...file, path: `${at}/${file.path}` });
}

function sameSignature(a: ServingConfig, b: ServingConfig): boolean {
  return JSON.stringify([tensors(a.inputs), tensors(a.outputs)]) === JSON.stringify([tensors(b.inputs), tensors(b.outputs)]);
}

function numbers(versions: ExportedVersion[]): number[] {
  return versions.map((v) => v.config.info.version);
}

function tensors(specs: ServingConfig['inputs']): ExportTensor[] {
  return specs.map(({ name, datatype, shape }) => ({ name, datatype, shape }));
}
