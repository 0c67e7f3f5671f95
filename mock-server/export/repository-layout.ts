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
import type { AliasTarget, ModelConfig, ServingConfig } from '../registry/model-config';
import type { Runtime } from '../runtime/backend';
import type { ExportTensor } from './export-input';
import type { RepositoryWriter } from './repository-archive';
import { KSERVE_CANARY_DIR, KSERVE_STABLE_DIR, kserveCanary, kserveManifests } from './kserve-manifests';
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

function numbers(versions: ExportedVersion[]): number[] {
  return versions.map((v) => v.config.info.version);
}

function tensors(specs: ServingConfig['inputs']): ExportTensor[] {
  return specs.map(({ name, datatype, shape }) => ({ name, datatype, shape }));
}

/** What each archive's README.txt says to run. */
const readme = {
  triton: (model: string) =>
    [
      `A Triton model repository for '${model}', written by modelport export.`,
      '',
      `  ${model}/config.pbtxt                 the model configuration (inference.ModelConfig)`,
      `  ${model}/<n>/model.savedmodel/       each version as a TensorFlow SavedModel (serving_default)`,
      '',
      'Serve it with NVIDIA Triton (its container has the TensorFlow backend):',
      '',
      '  docker run --rm -p 8000:8000 -v "$PWD":/models nvcr.io/nvidia/tritonserver:<yy.mm>-py3 \\',
      '    tritonserver --model-repository=/models',
      '',
      `then: curl localhost:8000/v2/models/${model}   (the same Open Inference Protocol as modelport's /v2)`,
      '',
    ].join('\n'),
  tfServing: (model: string) =>
    [
      `A TensorFlow Serving model base path for '${model}', written by modelport export.`,
      '',
      `  ${model}/<n>/        each version as a TensorFlow SavedModel (serving_default)`,
      `  models.config        the model config (tensorflow.serving.ModelServerConfig); base_path is /models/${model}:`,
      '                       change it if the folder is elsewhere',
      '',
      'Serve it with TensorFlow Serving:',
      '',
      '  docker run --rm -p 8501:8501 -v "$PWD":/models tensorflow/serving \\',
      '    --model_config_file=/models/models.config',
      '',
      `  (or: tensorflow_model_server --rest_api_port=8501 --model_config_file=$PWD/models.config, with base_path changed)`,
      '',
      `then: curl localhost:8501/v1/models/${model}   (TF Serving's own REST API, not the Open Inference Protocol)`,
      '',
    ].join('\n'),
  kserve: (model: string, manifests: string[], canary: boolean, storageUri: string) =>
    [
      `KServe deployment of '${model}', written by modelport export.`,
      '',
      ...(canary
        ? [
            `  stable/${model}/        the stable version, a Triton model repository: copy stable/ to ${storageUri}/stable`,
            `  canary/${model}/        the canary version, a Triton model repository: copy canary/ to ${storageUri}/canary`,
            `  ${manifests.join(', ')}`,
            '                          the InferenceService serving the stable version, then the same service rolling',
            "                          out the canary with the alias's traffic split (canaryTrafficPercent; KServe serverless mode)",
            '',
            'Deploy:',
            '',
            `  gsutil -m cp -r stable canary ${storageUri}/        (or aws s3 cp --recursive, per folder; whatever stores ${storageUri})`,
            ...manifests.map((file) => `  kubectl apply -f ${file}`),
          ]
        : [
            `  repository/${model}/    a Triton model repository: copy the content of repository/ to ${storageUri}`,
            `  ${manifests.join(', ')}    the InferenceService (Triton runtime, protocol v2)`,
            '',
            'Deploy:',
            '',
            `  gsutil -m cp -r repository/* ${storageUri}/        (or aws s3 cp --recursive; whatever stores ${storageUri})`,
            ...manifests.map((file) => `  kubectl apply -f ${file}`),
          ]),
      '',
      `then: the service's /v2/models/${model}/infer speaks the Open Inference Protocol, as modelport's /v2 does.`,
      '',
    ].join('\n'),
};
