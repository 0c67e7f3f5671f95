/**
 * Checks an unpacked upload before it is accepted: which format it is, that TF.js manifests match
 * their shards, that a SavedModel's graph passes the op policy, that the model really loads, and
 * what its input/output signature is. Runs in the inspection child process (inspection-child.ts):
 * parsing a hostile protobuf or loading a hostile model may take any time and memory, so the
 * server only ever loads what this process has already loaded within the limits.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { badRequest, type HttpError } from '../http/errors';
import type { Runtime } from '../runtime/backend';
import { loadModel, readTfjsArtifacts } from '../runtime/loader';
import { refuseNonFiniteOnZeros } from '../runtime/finite';
import { checkSavedModelPolicy } from '../runtime/saved-model-policy';
import { datatypeOfTfDtype, SERVED_TF_DTYPES } from '../runtime/saved-model-runner';
import type { ModelConfig, Platform, TensorSpec, VersionInfo } from '../registry/model-config';

export type InspectedInfo = Omit<VersionInfo, 'version'>;

export interface InspectionOptions {
  signature?: string;
  tags?: string[];
  /** Skip the SavedModel op allowlist (the server was told to trust uploaded models). */
  trusted?: boolean;
  /**
   * The longest the test-load may take. Serving loads the model again on the server's event loop
   * (tfjs-node's load is synchronous), so a model that takes this long here stalls the server about
   * as long there: slower ones are refused (--max-model-load-seconds).
   */
  maxLoadMs?: number;
}

/** TF.js models' dtypes (a SavedModel's own dtypes: datatypeOfTfDtype in runtime/saved-model-runner.ts). */
const DTYPE_TO_DATATYPE: Record<string, TensorSpec['datatype']> = {
  float32: 'FP32',
  int32: 'INT32',
  bool: 'BOOL',
  string: 'BYTES',
};

/** The version's info, once the model in `dir` has been checked and loaded (then disposed) here. */
export async function inspectUpload(
  runtime: Runtime,
  dir: string,
  files: string[],
  model: ModelConfig,
  options: InspectionOptions,
): Promise<InspectedInfo> {
  const platform = await detectPlatform(dir, files);
  const tags = options.tags ?? ['serve'];
  let signature: { inputs: TensorSpec[]; outputs: TensorSpec[]; params?: number };
  if (platform === 'tensorflow_savedmodel') {
    const assetFiles = files.filter((f) => f.startsWith('assets/')).map((f) => f.slice('assets/'.length));
    checkSavedModelPolicy(await readFile(path.join(dir, 'saved_model.pb')), { tags, assetFiles, trusted: options.trusted ?? false });
    signature = await savedModelSignature(runtime, dir, options.signature ?? 'serving_default', tags);
  } else {
    await checkManifest(dir, files);
    signature = await tfjsSignature(runtime, dir, platform);
  }
  const { inputs, outputs } = reconcile(model, signature);
  const info: InspectedInfo = {
    platform,
    inputs,
    outputs,
    created_at: new Date().toISOString(),
    size_bytes: await totalSize(dir, files),
    ...(signature.params !== undefined ? { params: signature.params } : {}),
    ...(platform === 'tensorflow_savedmodel' ? { signature: options.signature ?? 'serving_default', tags } : {}),
  };
  const loadStarted = performance.now();
  let nonFinite: HttpError | undefined;
  try {
    const loaded = await loadModel(runtime, { ...model, platform, inputs, outputs, info: { ...info, version: 0 } }, dir);
    // One run on zeros, as serving's warm-up does on the event loop (so it counts as load time).
    try {
      nonFinite = refuseNonFiniteOnZeros(runtime, loaded, inputs, outputs);
    } finally {
      loaded.dispose();
    }
  } catch (error) {
    throw badRequest(`the model does not load: ${(error as Error).message}`, undefined, 'invalid_model');
  }
  const loadMs = performance.now() - loadStarted;
  if (options.maxLoadMs !== undefined && loadMs > options.maxLoadMs) {
    throw badRequest(
      `loading the model took ${(loadMs / 1000).toFixed(1)} s; the server loads models on its event loop, so it accepts models that load within ${(options.maxLoadMs / 1000).toFixed(1)} s (--max-model-load-seconds)`,
      [{ path: '/files', message: `loads in ${Math.round(loadMs)} ms, more than ${options.maxLoadMs} ms` }],
      'invalid_model',
    );
  }
  if (nonFinite) throw nonFinite;
  return info;
}

async function detectPlatform(dir: string, files: string[]): Promise<Platform> {
  if (files.includes('saved_model.pb')) return 'tensorflow_savedmodel';
  if (!files.includes('model.json')) {
    throw badRequest(
      'found neither model.json (TF.js) nor saved_model.pb (SavedModel) at the top of the upload',
      [{ path: '/files', message: `received ${files.slice(0, 5).join(', ')}${files.length > 5 ? ', …' : ''}` }],
      'invalid_archive',
    );
  }
  const json = await readJson(path.join(dir, 'model.json'));
  if (json.format === 'graph-model') return 'tfjs_graph';
  if (json.format === 'layers-model' || (json.modelTopology as { class_name?: string } | undefined)?.class_name) return 'tfjs_layers';
  throw badRequest(
    "model.json is neither a TF.js layers model nor a graph model (its 'format' says neither)",
    [{ path: '/model.json/format', message: `is ${JSON.stringify(json.format)}` }],
    'invalid_model',
  );
}

/** Every shard the manifest names is present, and the bytes add up to the weights it declares. */
async function checkManifest(dir: string, files: string[]): Promise<void> {
  const json = await readJson(path.join(dir, 'model.json'));
  const manifest = json.weightsManifest as
    | { paths: string[]; weights: { name: string; shape: number[]; dtype: string; quantization?: { dtype: string } }[] }[]
    | undefined;
  if (!Array.isArray(manifest))
    throw badRequest(
      'model.json has no weightsManifest',
      [{ path: '/model.json/weightsManifest', message: 'is required' }],
      'manifest_mismatch',
    );
  const missing = manifest.flatMap((group) => group.paths).filter((p) => !files.includes(path.posix.normalize(p)));
  if (missing.length) {
    throw badRequest(
      `model.json names weight shards that were not uploaded: ${missing.join(', ')}`,
      missing.map((p) => ({ path: `/files/${p}`, message: 'named by the manifest, not uploaded' })),
      'manifest_mismatch',
    );
  }
  const bytesPerElement: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2, int8: 1, int16: 2 };
  const declared = manifest
    .flatMap((g) => g.weights)
    .reduce((n, w) => {
      const dtype = w.quantization?.dtype ?? w.dtype;
      return n + (bytesPerElement[dtype] ?? 4) * w.shape.reduce((a, b) => a * b, 1);
    }, 0);
  let actual = 0;
  for (const shard of manifest.flatMap((g) => g.paths)) actual += (await stat(path.join(dir, shard))).size;
  if (actual !== declared && !manifest.flatMap((g) => g.weights).some((w) => w.dtype === 'string')) {
    throw badRequest(
      `the weight shards hold ${actual} bytes but the manifest declares ${declared}`,
      [{ path: '/model.json/weightsManifest', message: `declares ${declared} bytes, shards hold ${actual}` }],
      'manifest_mismatch',
    );
  }
}

async function tfjsSignature(runtime: Runtime, dir: string, platform: Platform) {
  let artifacts;
  try {
    artifacts = await readTfjsArtifacts(dir);
  } catch (error) {
    throw badRequest(`model.json could not be read: ${(error as Error).message}`, undefined, 'invalid_model');
  }
  const { tf } = runtime;
  try {
    if (platform === 'tfjs_layers') {
      const model = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
      try {
        return {
          inputs: model.inputs.map((t, i) => ({
            name: model.inputNames[i] ?? t.name,
            datatype: datatypeOf(t.dtype),
            shape: t.shape.map((d) => d ?? -1),
          })),
          outputs: model.outputs.map((t, i) => ({
            name: model.outputNames[i] ?? t.name,
            datatype: datatypeOf(t.dtype),
            shape: t.shape.map((d) => d ?? -1),
          })),
          params: model.countParams(),
        };
      } finally {
        model.dispose();
      }
    }
    const model = await tf.loadGraphModel(tf.io.fromMemory(artifacts));
    try {
      const spec = (t: { name: string; dtype: string; shape?: number[] }) => ({
        name: t.name,
        datatype: datatypeOf(t.dtype),
        shape: (t.shape ?? []).map((d) => (d < 0 ? -1 : d)),
      });
      return { inputs: model.inputs.map(spec), outputs: model.outputs.map(spec) };
    } finally {
      model.dispose();
    }
  } catch (error) {
    throw badRequest(`the model does not load: ${(error as Error).message}`, undefined, 'invalid_model');
  }
}

async function savedModelSignature(runtime: Runtime, dir: string, signatureName: string, tags: string[]) {
  if (!runtime.node)
    throw badRequest(
      `SavedModels need the native TensorFlow backend; this server runs on '${runtime.backend}'`,
      undefined,
      'unsupported_model',
    );
  let metaGraphs;
  try {
    metaGraphs = await runtime.node.getMetaGraphsFromSavedModel(dir);
  } catch (error) {
    throw badRequest(`saved_model.pb could not be read: ${(error as Error).message}`, undefined, 'invalid_model');
  }
  const graph = metaGraphs.find((g) => tags.every((t) => g.tags.includes(t)));
  if (!graph)
    throw badRequest(
      `the SavedModel has no meta graph tagged [${tags}] (it has ${metaGraphs.map((g) => `[${g.tags}]`).join(', ')})`,
      undefined,
      'invalid_model',
    );
  const definition = graph.signatureDefs[signatureName];
  if (!definition)
    throw badRequest(
      `the SavedModel has no signature '${signatureName}' (it has ${Object.keys(graph.signatureDefs).join(', ')})`,
      undefined,
      'invalid_model',
    );
  // tfjs-node hands shapes over as protobuf Dim objects despite its types; getSize() reads them.
  const dims = (shape: unknown[]) => shape.map((d) => (typeof d === 'number' ? d : Number((d as { getSize(): number }).getSize())));
  // The signature's own dtype (tfDtype, e.g. DT_INT64), not tfjs-node's TF.js dtype for it (int32).
  type SignatureTensor = { tfDtype?: string; shape: unknown[] };
  const spec = (kind: 'input' | 'output', [name, t]: [string, SignatureTensor]) => {
    const datatype = datatypeOfTfDtype(t.tfDtype);
    if (!datatype) {
      const dtype = t.tfDtype ?? 'a dtype tfjs-node does not know';
      throw badRequest(
        `the SavedModel's ${kind} '${name}' is ${dtype}, which modelport cannot serve (it serves ${SERVED_TF_DTYPES.join(', ')})`,
        [{ path: `/signature/${kind}s/${name}`, message: `is ${dtype}` }],
        'unsupported_model',
      );
    }
    return { name, datatype, shape: dims(t.shape) };
  };
  return {
    inputs: Object.entries(definition.inputs as Record<string, SignatureTensor>).map((entry) => spec('input', entry)),
    outputs: Object.entries(definition.outputs as Record<string, SignatureTensor>).map((entry) => spec('output', entry)),
  };
}

/** The model's declared signature wins (names by position); otherwise the version's own is used. */
function reconcile(model: ModelConfig, found: { inputs: TensorSpec[]; outputs: TensorSpec[] }) {
  const check = (kind: 'inputs' | 'outputs') => {
    const declared = model[kind];
    if (!declared) return found[kind];
    const actual = found[kind];
    const problems = declared.flatMap((want, i) => {
      const got = actual[i];
      if (!got) return [`${kind} ${i} ('${want.name}') is missing`];
      const shapeFits =
        got.shape.length === want.shape.length && got.shape.every((d, k) => d === -1 || want.shape[k] === -1 || d === want.shape[k]);
      return shapeFits ? [] : [`${kind} ${i} ('${want.name}'): model has shape [${got.shape}], the model config declares [${want.shape}]`];
    });
    if (actual.length !== declared.length)
      problems.push(`the upload has ${actual.length} ${kind}, the model config declares ${declared.length}`);
    if (problems.length)
      throw badRequest(
        `the upload does not match the model's signature: ${problems.join('; ')}`,
        problems.map((message) => ({ path: `/${kind}`, message })),
        'signature_mismatch',
      );
    return declared;
  };
  return { inputs: check('inputs'), outputs: check('outputs') };
}

function datatypeOf(dtype: string): TensorSpec['datatype'] {
  return DTYPE_TO_DATATYPE[dtype] ?? 'FP32';
}

async function readJson(file: string): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw badRequest(`${path.basename(file)} is not valid JSON: ${(error as Error).message}`, undefined, 'invalid_model');
  }
}

async function totalSize(dir: string, files: string[]): Promise<number> {
  let total = 0;
  for (const file of files) total += (await stat(path.join(dir, file))).size;
  return total;
}
