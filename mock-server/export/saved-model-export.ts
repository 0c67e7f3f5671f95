/**
 * A model version as a TensorFlow SavedModel that TensorFlow Serving, Triton and Python
 * TensorFlow load (tag `serve`, signature `serving_default`), its signature keys, dtypes and
 * shapes being the version's Open Inference Protocol metadata:
 *
 * - TF.js layers models are translated to a frozen graph (runtime/layers-to-graph.ts; weights as
 *   constants, so the SavedModel is saved_model.pb alone);
 * - SavedModels are copied file for file (their signature keys are the metadata names already);
 *   one that serves another signature than `serving_default` has it renamed so
 *   (saved-model-resign.ts);
 * - TF.js graph models are written back as a binary GraphDef with their weights as constants
 *   (graph-model-export.ts).
 *
 * What cannot be exported is refused with 422 `not_exportable` naming the layer, op or reason.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { HttpError } from '../http/errors';
import type { ServingConfig } from '../registry/model-config';
import type { Runtime } from '../runtime/backend';
import { DT_OF_DATATYPE } from '../runtime/graph-protobuf';
import { layersToSavedModel } from '../runtime/layers-to-graph';
import { graphModelToSavedModel } from './graph-model-export';
import { resignSavedModel } from './saved-model-resign';
import { readTfjsArtifacts } from '../runtime/loader';

export interface ExportFile {
  /** Posix path relative to the SavedModel folder. */
  path: string;
  data?: Uint8Array;
  /** Absolute path of a file to copy. */
  source?: string;
}

export interface ExportedSavedModel {
  files: ExportFile[];
}

/** Files of a stored version that are modelport's own, not the SavedModel's. */
const MODELPORT_FILES = new Set(['version.json']);

export async function exportSavedModel(runtime: Runtime, config: ServingConfig, versionDir: string): Promise<ExportedSavedModel> {
  const built = await build(runtime, config, versionDir, false);
  if (typeof built === 'string')
    throw new HttpError(422, 'not_exportable', `${config.name} version ${config.info.version} cannot be exported: ${built}`);
  return built;
}

/** Why the version would not export (undefined: it exports), for the warnings shown at upload. */
export async function exportBlocker(runtime: Runtime, config: ServingConfig, versionDir: string): Promise<string | undefined> {
  const built = await build(runtime, config, versionDir, true);
  return typeof built === 'string' ? built : undefined;
}

/** The export, or why there is none; `checkOnly` builds no weights into it (for exportBlocker, whose result is discarded). */
async function build(
  runtime: Runtime,
  config: ServingConfig,
  versionDir: string,
  checkOnly: boolean,
): Promise<ExportedSavedModel | string> {
  switch (config.platform) {
    case 'tfjs_layers':
      return translateLayersModel(runtime, config, versionDir, checkOnly);
    case 'tensorflow_savedmodel':
      return copySavedModel(config, versionDir);
    case 'tfjs_graph': {
      const savedModel = await graphModelToSavedModel(runtime, config, versionDir, checkOnly);
      return typeof savedModel === 'string' ? savedModel : { files: [{ path: 'saved_model.pb', data: savedModel }] };
    }
    default:
      return `platform '${String(config.platform)}' has no SavedModel form`;
  }
}

async function translateLayersModel(
  runtime: Runtime,
  config: ServingConfig,
  versionDir: string,
  checkOnly: boolean,
): Promise<ExportedSavedModel | string> {
  const model = await runtime.tf.loadLayersModel(runtime.tf.io.fromMemory(await readTfjsArtifacts(versionDir)));
  try {
    const strings = [...config.inputs, ...config.outputs].find((t) => t.datatype === 'BYTES');
    if (strings) return `tensor '${strings.name}' is BYTES, and a layers model has no string tensors`;
    const spec = (t: ServingConfig['inputs'][number]) => ({ key: t.name, dims: t.shape, dtype: DT_OF_DATATYPE[t.datatype] });
    const signature = { inputs: config.inputs.map(spec), outputs: config.outputs.map(spec) };
    const translated = layersToSavedModel(model, { signature, checkOnly });
    if (typeof translated === 'string') return translated;
    return { files: [{ path: 'saved_model.pb', data: translated.savedModel }] };
  } finally {
    model.dispose();
  }
}

async function copySavedModel(config: ServingConfig, versionDir: string): Promise<ExportedSavedModel | string> {
  const signature = config.info.signature ?? 'serving_default';
  const tags = config.info.tags ?? ['serve'];
  if (tags.length !== 1 || tags[0] !== 'serve')
    return `it serves the meta graph tagged ${JSON.stringify(tags)}, and servers load the one tagged ["serve"]`;
  const files: ExportFile[] = [];
  for (const entry of await readdir(versionDir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const source = path.join(entry.parentPath, entry.name);
    const relative = path.relative(versionDir, source).split(path.sep).join('/');
    if (MODELPORT_FILES.has(relative)) continue;
    files.push({ path: relative, source });
  }
  files.sort((a, b) => a.path.localeCompare(b.path));
  if (signature === 'serving_default') return { files };
  // Servers call serving_default: the served signature takes that name (saved-model-resign.ts).
  if (files.some((f) => f.path === 'saved_model.pbtxt'))
    return `it serves signature '${signature}' from a saved_model.pbtxt, which is not re-signed`;
  const resigned = resignSavedModel(await readFile(path.join(versionDir, 'saved_model.pb')), signature, tags);
  if (typeof resigned === 'string') return resigned;
  // fingerprint.pb holds the checksum of the original saved_model.pb; it is optional, so it is left out rather than left wrong.
  return {
    files: files
      .filter((f) => f.path !== 'fingerprint.pb')
      .map((f) => (f.path === 'saved_model.pb' ? { path: f.path, data: resigned } : f)),
  };
}
