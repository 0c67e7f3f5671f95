import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type * as tfTypes from '../mock-server/runtime/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Modelport } from '../src/index';
import { startMockServer } from '../mock-server/index';
import { loadRuntime, type Runtime } from '../mock-server/runtime/backend';
import { compileLayersGraph, graphDirPrefix, GRAPH_TOLERANCE, sweepStaleGraphDirs } from '../mock-server/runtime/layers-graph';
import { loadModel } from '../mock-server/runtime/loader';
import type { ServingConfig } from '../mock-server/registry/model-config';

// Graph execution needs the native backend; CI checks every Node version serves on it.
let runtime: Runtime;
let tf: Runtime['tf'];
const work = await mkdtemp(path.join(os.tmpdir(), 'modelport-layers-graph-'));

// This file's os.tmpdir() (TMPDIR, read on each call) is a folder of its own, holding before the
// first compile one graph folder of an exited process and one of this process.
const graphTmp = path.join(work, 'os-tmp');
const exitedPid = spawnSync(process.execPath, ['-e', '']).pid!;
const staleDir = `${graphDirPrefix(exitedPid)}3-stale`;
const liveDir = `${graphDirPrefix(process.pid)}999-live`;
const savedTmpdir = process.env.TMPDIR;

beforeAll(async () => {
  await mkdir(path.join(graphTmp, staleDir), { recursive: true });
  await writeFile(path.join(graphTmp, staleDir, 'saved_model.pb'), 'left by a killed server');
  await mkdir(path.join(graphTmp, liveDir));
  process.env.TMPDIR = graphTmp;
  runtime = await loadRuntime({ backend: 'tensorflow', warn: () => undefined });
  tf = runtime.tf;
});
afterAll(async () => {
  if (savedTmpdir === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmpdir;
  await rm(work, { recursive: true, force: true });
});

/** A small CNN with seeded weights: conv → pool → flatten → dense → softmax. */
function smallCnn(): tfTypes.Sequential {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [8, 8, 1],
        filters: 4,
        kernelSize: 3,
        activation: 'relu',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
      }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dropout({ rate: 0.5 }),
      tf.layers.dense({
        units: 3,
        activation: 'softmax',
        kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }),
        biasInitializer: tf.initializers.constant({ value: 0.1 }),
      }),
    ],
  });
  return model;
}

function probe(rows: number): tfTypes.Tensor {
  return tf.tidy(() => tf.linspace(-1, 2, rows * 64).reshape([rows, 8, 8, 1]));
}

describe('compileLayersGraph', () => {
  it('runs a supported chain as one graph with the layers model’s outputs (≤ 1e-5)', async () => {
    const model = smallCnn();
    const graph = await compileLayersGraph(runtime, model);
    if (!('run' in graph)) throw new Error(`not compiled: ${graph.reason}`);
    expect(graph.maxDelta).toBeLessThanOrEqual(GRAPH_TOLERANCE);
    for (const rows of [1, 5, 33]) {
      const x = probe(rows);
      const got = graph.run(x);
      const expected = model.predict(x) as tfTypes.Tensor;
      expect(got.shape).toEqual([rows, 3]);
      expect(tf.max(tf.abs(tf.sub(got, expected))).dataSync()[0]).toBeLessThanOrEqual(GRAPH_TOLERANCE);
      tf.dispose([x, got, expected]);
    }
    graph.dispose();
    model.dispose();
  });

  it('says why a model has no graph: an unsupported layer, several inputs', async () => {
    const batchNorm = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3 }), tf.layers.batchNormalization()] });
    expect(await compileLayersGraph(runtime, batchNorm)).toEqual({
      reason: expect.stringMatching(/\(BatchNormalization\) has no graph translation$/),
      mismatch: false,
    });
    const a = tf.input({ shape: [2] });
    const b = tf.input({ shape: [2] });
    const twoInputs = tf.model({ inputs: [a, b], outputs: tf.layers.add().apply([a, b]) as tfTypes.SymbolicTensor });
    expect(await compileLayersGraph(runtime, twoInputs)).toEqual({
      reason: 'only single-input, single-output models run as one graph',
      mismatch: false,
    });
  });

  it('refuses a graph whose outputs disagree, and the loader then serves the layers model', async () => {
    // A runtime whose SavedModel session answers off by one: the check must catch it.
    const node = runtime.node!;
    const offByOne: Runtime = {
      ...runtime,
      node: {
        ...node,
        loadSavedModel: async (...args: Parameters<typeof node.loadSavedModel>) => {
          const saved = await node.loadSavedModel(...args);
          return Object.assign(Object.create(saved), {
            predict: (x: tfTypes.Tensor) => tf.tidy(() => tf.add(saved.predict(x) as tfTypes.Tensor, 1)),
          });
        },
      },
    };
    const model = smallCnn();
    const refused = await compileLayersGraph(offByOne, model);
    expect(refused).toEqual({
      reason: expect.stringMatching(/^its TensorFlow graph's outputs differ from the layers model's by 1(\.\d+)? \(> 0\.00001\)$/),
      mismatch: true,
    });

    const dir = path.join(work, 'off-by-one');
    await model.save(`file://${dir}`);
    const config = { name: 'off-by-one', platform: 'tfjs_layers' } as ServingConfig;
    const warn = console.warn;
    const warnings: string[] = [];
    console.warn = (message: string) => warnings.push(message);
    const loaded = await loadModel(offByOne, config, dir).finally(() => (console.warn = warn));
    expect(loaded.execution).toBe('ops');
    expect(loaded.executionNote).toMatch(/outputs differ from the layers model's by 1/);
    expect(warnings).toEqual([expect.stringContaining("model 'off-by-one' runs op by op, not as one TensorFlow graph")]);
    const x = probe(2);
    const [served] = loaded.run([x]);
    const expected = model.predict(x) as tfTypes.Tensor;
    expect(tf.max(tf.abs(tf.sub(served!, expected))).dataSync()[0]).toBe(0);
    tf.dispose([x, served!, expected]);
    loaded.dispose();
    model.dispose();
  });
});

describe('stale graph folders', () => {
  it('removes those of processes that have exited, never a running one’s', async () => {
    const tmp = path.join(work, 'tmp');
    const exited = spawnSync(process.execPath, ['-e', '']).pid!;
    await mkdir(path.join(tmp, `${graphDirPrefix(exited)}1-abc`, 'variables'), { recursive: true });
    await mkdir(path.join(tmp, `${graphDirPrefix(process.pid)}7-def`), { recursive: true });
    await mkdir(path.join(tmp, `${graphDirPrefix(0).slice(0, -2)}notapid`), { recursive: true });
    // Another host's (or container's) folder: its pids are not ours to judge.
    const elsewhere = `modelport-graph-another-host-${exited}-2-ghi`;
    await mkdir(path.join(tmp, elsewhere), { recursive: true });
    expect(await sweepStaleGraphDirs(tmp)).toEqual([`${graphDirPrefix(exited)}1-abc`]);
    expect((await readdir(tmp)).sort()).toEqual(
      [`${graphDirPrefix(process.pid)}7-def`, `${graphDirPrefix(0).slice(0, -2)}notapid`, elsewhere].sort(),
    );
  });

  it('are swept by the first compile of a process, and not looked for again on later ones', async () => {
    const graphDirs = async () => (await readdir(graphTmp)).filter((name) => name.startsWith('modelport-graph-')).sort();
    const model = smallCnn();
    // Whichever test compiled first, the sweep has run once this compile returns.
    const first = await compileLayersGraph(runtime, model);
    if (!('run' in first)) throw new Error(`not compiled: ${first.reason}`);
    first.dispose();
    expect(await graphDirs()).toEqual([liveDir]);

    const laterStale = `${graphDirPrefix(exitedPid)}4-later`;
    await mkdir(path.join(graphTmp, laterStale));
    const second = await compileLayersGraph(runtime, model);
    if (!('run' in second)) throw new Error(`not compiled: ${second.reason}`);
    second.dispose();
    expect(await graphDirs()).toEqual([laterStale, liveDir].sort());
    model.dispose();
  });
});

describe("a version's execution in /v1", () => {
  let server: Awaited<ReturnType<typeof startMockServer>>;
  afterAll(() => server?.close());

  it('is graph for the bundled digits model, and ops with the reason when MODELPORT_GRAPH=off', async () => {
    server = await startMockServer({ auth: false });
    const client = new Modelport({ baseUrl: server.url });
    expect((await client.models.versions.get('digits', 1)).execution).toEqual({ mode: 'graph' });
    await server.close();
    process.env.MODELPORT_GRAPH = 'off';
    try {
      server = await startMockServer({ auth: false });
    } finally {
      delete process.env.MODELPORT_GRAPH;
    }
    const off = new Modelport({ baseUrl: server.url });
    expect((await off.models.versions.get('digits', 1)).execution).toEqual({ mode: 'ops', note: 'MODELPORT_GRAPH is off' });
  });
});
