/**
 * Runs a TF.js layers model as one TensorFlow graph: the model's layers are written out as a
 * frozen TensorFlow GraphDef (weights as constants) inside a SavedModel, which native
 * TensorFlow loads into a session. A batch is then one session call, optimised by Grappler and
 * oneDNN (fused conv + bias + relu, and so on), instead of one eager TensorFlow call per op.
 *
 * Done at load time from the model in memory, for any sequential chain of the layers that
 * layers-to-graph.ts translates (graph-protobuf.ts writes the bytes), so bundled models and
 * uploaded ones are served the same way and nothing extra ships or is stored.
 * The graph is used only after its outputs matched the layers model's on probe inputs; anything
 * else (an unsupported layer, a mismatch, no native backend) keeps the op-by-op layers model.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type * as tfTypes from './tfjs';
import type { Runtime } from './backend';
import { layersToSavedModel } from './layers-to-graph';
import { mulberry32 } from './seeded-random';
import { sweepStaleTempDirs, tempDirPrefix } from './stale-temp-dirs';

/** Largest |Δ| allowed between the graph's and the layers model's outputs on the probe inputs. */
export const GRAPH_TOLERANCE = 1e-5;

export interface LayersGraph {
  /** Runs one batch (the model's single input); the caller owns the output. */
  run(input: tfTypes.Tensor): tfTypes.Tensor;
  /** Largest |Δ| against the layers model measured at load time. */
  maxDelta: number;
  dispose(): void;
}

let compiled = 0;

/** Why a layers model is not run as one graph; `mismatch` means it was built but disagreed. */
export interface NotCompiled {
  reason: string;
  mismatch: boolean;
}

/**
 * Builds, loads and checks the graph. Returns the reason instead when the model cannot be run as
 * one graph; throws only on unexpected TensorFlow failures (the caller falls back then too).
 */
export async function compileLayersGraph(runtime: Runtime, model: tfTypes.LayersModel): Promise<LayersGraph | NotCompiled> {
  if (!runtime.node)
    return { reason: `graph execution needs the native TensorFlow backend (this server runs on '${runtime.backend}')`, mismatch: false };
  const built = layersToSavedModel(model);
  if (typeof built === 'string') return { reason: built, mismatch: false };
  swept ??= sweepStaleGraphDirs().then(() => undefined);
  await swept;
  // A path never used before in this process: tfjs-node reuses the session of a path it loaded.
  const dir = await mkdtemp(path.join(os.tmpdir(), `${graphDirPrefix(process.pid)}${++compiled}-`));
  let saved: Awaited<ReturnType<NonNullable<Runtime['node']>['loadSavedModel']>>;
  try {
    await writeFile(path.join(dir, 'saved_model.pb'), built.savedModel);
    saved = await runtime.node.loadSavedModel(dir, ['serve'], 'serving_default');
  } finally {
    // The session holds the whole graph (weights are constants): the files are not needed again.
    await rm(dir, { recursive: true, force: true });
  }
  const run = (input: tfTypes.Tensor) => saved.predict(input) as tfTypes.Tensor;
  try {
    const maxDelta = compare(runtime.tf, model, run, built.inputShape);
    if (!(maxDelta <= GRAPH_TOLERANCE)) {
      saved.dispose();
      return {
        reason: `its TensorFlow graph's outputs differ from the layers model's by ${maxDelta} (> ${GRAPH_TOLERANCE})`,
        mismatch: true,
      };
    }
    return { run, maxDelta, dispose: () => saved.dispose() };
  } catch (error) {
    saved.dispose();
    throw error;
  }
}

let swept: Promise<void> | undefined;

/** `modelport-graph-<host>-<pid>-` (stale-temp-dirs.ts). */
export function graphDirPrefix(pid: number): string {
  return tempDirPrefix('modelport-graph', pid);
}

/**
 * Each graph's folder lives only while it loads, but a server killed during a load leaves it
 * behind: once per process, remove this host's folders of processes that no longer run (never a
 * live one's).
 */
export function sweepStaleGraphDirs(tmp = os.tmpdir()): Promise<string[]> {
  return sweepStaleTempDirs('modelport-graph', tmp);
}

/** Largest |Δ| between the two on seeded probe batches (1 and 7 rows, values in [-1, 2)). */
function compare(tf: Runtime['tf'], model: tfTypes.LayersModel, run: (x: tfTypes.Tensor) => tfTypes.Tensor, sampleShape: number[]): number {
  let worst = 0;
  const random = mulberry32(0x9e3779b9);
  const size = sampleShape.reduce((n, d) => n * d, 1);
  for (const rows of [1, 7]) {
    const values = new Float32Array(rows * size);
    for (let i = 0; i < values.length; i++) values[i] = random() * 3 - 1;
    const delta = tf.tidy(() => {
      const x = tf.tensor(values, [rows, ...sampleShape], 'float32');
      const expected = model.predict(x) as tfTypes.Tensor;
      const got = run(x);
      if (got.shape.join() !== expected.shape.join()) return Infinity;
      return tf.max(tf.abs(tf.sub(got, expected))).dataSync()[0]!;
    });
    worst = Math.max(worst, Number.isNaN(delta) ? Infinity : delta);
  }
  return worst;
}
