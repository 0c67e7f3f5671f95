import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Modelport, TrainingJobError, type TrainingEvent } from '../src/index';
import { startMockServer, type RunningMockServer } from '../mock-server/index';
import { buildOptimizer } from '../mock-server/training/architecture';
import { loadMnistSplit } from '../mock-server/datasets/mnist-split';
import { shuffleInPlace } from '../mock-server/datasets/labeled-set';
import { mulberry32 } from '../mock-server/runtime/seeded-random';
import { BUNDLED, tempDataDir } from './helpers/data-dir';
import { kill, startChildServer } from './helpers/child-server';
import { tf } from './helpers/tf';
import type * as tfTypes from '../mock-server/runtime/tfjs';

let server: RunningMockServer;
let client: Modelport;
let dataDir: Awaited<ReturnType<typeof tempDataDir>>;
const mlp = {
  input: { name: 'image', shape: [28, 28, 1] },
  layers: [
    { type: 'flatten' as const },
    { type: 'dense' as const, units: 32, activation: 'relu' as const },
    { type: 'dense' as const, units: 10, activation: 'softmax' as const },
  ],
};

beforeAll(async () => {
  dataDir = await tempDataDir();
  server = await startMockServer({ auth: false, dataDir: dataDir.dir });
  client = new Modelport({ baseUrl: server.url, maxRetries: 0 });
});
afterAll(async () => {
  await server?.close();
  await dataDir?.remove();
});

describe('training jobs on the native runtime', () => {
  it('trains a new digits model: validation accuracy rises far above chance, events stream, a version is registered', async () => {
    const job = await client.trainingJobs.create({
      model: 'digits-trained',
      task: 'image-classification',
      labels: [...'0123456789'],
      dataset: 'mnist-train',
      architecture: mlp,
      epochs: 3,
      batch_size: 64,
      validation_split: 0.1,
      optimizer: { name: 'adam', learning_rate: 0.002 },
      seed: 7,
      alias: 'production',
    });
    expect(job).toMatchObject({ status: 'queued', model: 'digits-trained', epochs: 3 });
    const events: TrainingEvent[] = [];
    for await (const event of job.events()) events.push(event);
    expect(
      events.map((e) => e.type),
      JSON.stringify(events.at(-1)),
    ).toEqual(['queued', 'started', 'epoch', 'epoch', 'epoch', 'succeeded']);
    const epochs = events.filter((e) => e.type === 'epoch');
    expect(epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);
    expect(epochs.at(-1)!.val_accuracy).toBeGreaterThan(0.85); // chance is 0.1
    expect(epochs[2]!.loss).toBeLessThan(epochs[0]!.loss!);
    expect(epochs.at(-1)!.eta_seconds).toBe(0);

    const done = await job.wait();
    expect(done).toMatchObject({ status: 'succeeded', result_version: 1, progress: { fraction: 1 } });
    const version = await client.models.versions.get('digits-trained', 1);
    expect(version).toMatchObject({
      platform: 'tfjs_layers',
      aliases: ['production'],
      metrics: { dataset: 'mnist-train', val_accuracy: epochs.at(-1)!.val_accuracy },
    });
    expect(version.inputs).toEqual([{ name: 'image', datatype: 'FP32', shape: [-1, 28, 28, 1] }]);
    expect(version.outputs).toEqual([{ name: 'probabilities', datatype: 'FP32', shape: [-1, 10] }]);
    const held = loadMnistSplit().test;
    const prediction = await client.predict('digits-trained', held.x.subarray(0, 784 * 100));
    const correct = prediction.labels!.filter((l, i) => Number(l) === held.y[i]).length;
    expect(correct).toBeGreaterThan(80);
    // Replayable: the same events again after the job ended, and resumable after an id.
    const replay: TrainingEvent[] = [];
    for await (const event of client.trainingJobs.events(job.id)) replay.push(event);
    expect(replay).toEqual(events);
    const resumed = await fetch(`${server.url}/v1/training-jobs/${job.id}/events`, { headers: { 'last-event-id': '4' } });
    expect((await resumed.text()).match(/^id: \d+/gm)).toEqual(['id: 5', 'id: 6']);
  });

  it("fine-tuning starts from the base version's weights: epoch 1 loss equals the base model's loss", async () => {
    const job = await client.trainingJobs.create({
      model: 'digits-mlp',
      base_version: 1,
      dataset: 'mnist-holdout',
      epochs: 1,
      batch_size: 100,
      validation_split: 0.2,
      optimizer: { name: 'sgd', learning_rate: 1e-9 },
      seed: 3,
    });
    const done = await job.wait();
    // The base model's loss on exactly the samples the job trained on (its seeded shuffle, minus the validation part).
    const held = loadMnistSplit().test;
    const order = shuffleInPlace(
      Array.from({ length: held.n }, (_, i) => i),
      mulberry32(3),
    ).slice(0, held.n * 0.8);
    const base = await tf.loadLayersModel(`file://${path.join(BUNDLED, 'digits-mlp', '1', 'model.json')}`);
    const x = tf.tensor4d(Float32Array.from(order.flatMap((i) => Array.from(held.x.subarray(i * 784, (i + 1) * 784)))), [
      order.length,
      28,
      28,
      1,
    ]);
    const y = tf
      .oneHot(
        tf.tensor1d(
          order.map((i) => held.y[i]!),
          'int32',
        ),
        10,
      )
      .toFloat();
    const expected = tf.metrics
      .categoricalCrossentropy(y, base.predict(x) as tfTypes.Tensor)
      .mean()
      .dataSync()[0]!;
    expect(done.metrics!.loss).toBeCloseTo(expected, 3);
    expect(done.metrics!.loss).toBeLessThan(0.5); // a fresh model would start near ln(10) = 2.3
    expect(done.result_version).toBe(2);
    expect((await client.models.versions.get('digits-mlp', 2)).training).toMatchObject({ base_version: 1, epochs_run: 1 });
    base.dispose();
  });

  it('freeze_layers keeps the first layers exactly as they were; the rest learn', async () => {
    const job = await client.trainingJobs.create({
      model: 'iris',
      base_version: 1,
      freeze_layers: 3,
      dataset: 'iris-train',
      epochs: 3,
      batch_size: 16,
      optimizer: { name: 'adam', learning_rate: 0.05 },
    });
    const done = await job.wait();
    const load = (dir: string) => tf.loadLayersModel(`file://${path.join(dir, 'model.json')}`);
    const before = await load(path.join(BUNDLED, 'iris', '1'));
    const after = await load(path.join(dataDir.dir, 'models', 'iris', String(done.result_version)));
    const weights = (model: tfTypes.LayersModel, layer: number) => model.layers[layer]!.getWeights().map((w) => Array.from(w.dataSync()));
    expect(before.layers.length).toBe(after.layers.length);
    // iris: features (input), standardize (never trainable), hidden, probabilities: freezing 3 keeps 'hidden'.
    for (const layer of [0, 1, 2]) expect(weights(after, layer)).toEqual(weights(before, layer));
    expect(weights(after, before.layers.length - 1)).not.toEqual(weights(before, before.layers.length - 1));
    before.dispose();
    after.dispose();
  });

  it('cancel stops a running job within one batch, and registers nothing', async () => {
    const job = await client.trainingJobs.create({
      model: 'never',
      task: 'image-classification',
      dataset: 'mnist-train',
      architecture: mlp,
      epochs: 50,
      batch_size: 8,
      optimizer: { name: 'sgd' },
    });
    for await (const event of job.events()) {
      if (event.type === 'started') {
        await new Promise((r) => setTimeout(r, 300));
        await client.trainingJobs.cancel(job.id);
      }
      if (event.type === 'cancelled') expect(event.batches_after_cancel).toBeLessThanOrEqual(1);
    }
    const error = await job.wait().catch((e) => e);
    expect(error).toBeInstanceOf(TrainingJobError);
    expect(error.job.status).toBe('cancelled');
    await expect(client.models.get('never')).rejects.toMatchObject({ status: 404 });
    await expect(client.trainingJobs.cancel(job.id)).rejects.toMatchObject({ status: 409, code: 'job_finished' });
  });

  it('trains on an uploaded dataset (CSV through /v1/datasets)', async () => {
    const { loadIrisSplit } = await import('../mock-server/datasets/iris-split');
    const { IRIS_LABELS } = await import('../mock-server/datasets/iris-data');
    const train = loadIrisSplit().train;
    const csv = [
      'sepal_length,sepal_width,petal_length,petal_width,label',
      ...Array.from({ length: train.n }, (_, i) => [...train.x.subarray(i * 4, i * 4 + 4), IRIS_LABELS[train.y[i]!]].join(',')),
    ].join('\n');
    await client.datasets.create({ name: 'my-flowers', csv, labels: [...IRIS_LABELS] });
    const job = await client.trainingJobs.create({
      model: 'flowers',
      task: 'tabular-classification',
      labels: [...IRIS_LABELS],
      dataset: 'my-flowers',
      epochs: 60,
      batch_size: 16,
      architecture: {
        input: { name: 'features', shape: [4] },
        layers: [
          { type: 'dense', units: 12, activation: 'relu' },
          { type: 'dense', units: 3, activation: 'softmax' },
        ],
      },
      optimizer: { name: 'adam', learning_rate: 0.03 },
      seed: 1,
    });
    const done = await job.wait();
    expect(done.metrics!.accuracy).toBeGreaterThan(0.8); // chance is 1/3
    expect((await client.predict('flowers', [[5.1, 3.5, 1.4, 0.2]])).labels).toEqual(['setosa']);
  });

  it('refuses what cannot train with 4xx and details', async () => {
    const base = { model: 'x', dataset: 'mnist-train', epochs: 1, optimizer: { name: 'sgd' as const } };
    await expect(client.trainingJobs.create({ ...base })).rejects.toMatchObject({ status: 400 });
    await expect(client.trainingJobs.create({ ...base, architecture: mlp, base_version: 1 })).rejects.toMatchObject({ status: 400 });
    await expect(client.trainingJobs.create({ ...base, architecture: mlp, dataset: 'imagenet' })).rejects.toMatchObject({
      status: 404,
      code: 'dataset_not_found',
    });
    await expect(
      client.trainingJobs.create({ ...base, architecture: { ...mlp, input: { name: 'image', shape: [27, 27, 1] } } }),
    ).rejects.toMatchObject({ status: 400, code: 'shape_mismatch' });
    await expect(
      client.trainingJobs.create({
        ...base,
        architecture: { ...mlp, layers: [{ type: 'flatten' }, { type: 'dense', units: 7, activation: 'softmax' }] },
      }),
    ).rejects.toMatchObject({
      status: 400,
      code: 'shape_mismatch',
      details: [{ path: '/architecture/layers/1/units', message: 'must be 10' }],
    });
    await expect(
      client.trainingJobs.create({ ...base, model: 'tiny', architecture: mlp, optimizer: { name: 'nadam' as never } }),
    ).rejects.toMatchObject({ status: 400, code: 'invalid_request' });
  });
});

describe('each optimizer follows its rule on a one-step toy problem (w = 1, loss = w², gradient 2w)', () => {
  const step = (spec: Parameters<typeof buildOptimizer>[1], steps = 1) => {
    const w = tf.variable(tf.scalar(1));
    const optimizer = buildOptimizer(tf, spec);
    for (let i = 0; i < steps; i++) optimizer.minimize(() => w.square() as tfTypes.Scalar, false, [w]);
    const value = w.dataSync()[0]!;
    w.dispose();
    optimizer.dispose();
    return value;
  };
  it.each([
    ['sgd: w − lr·g', { name: 'sgd', learning_rate: 0.1 }, 1, 0.8],
    ['momentum (2 steps): v = m·v + g; w − lr·v', { name: 'momentum', learning_rate: 0.1, momentum: 0.9 }, 2, 0.8 - 0.1 * (0.9 * 2 + 1.6)],
    [
      'adagrad: a = a0 + g²; w − lr·g/√a',
      { name: 'adagrad', learning_rate: 0.1, initial_accumulator_value: 0.1 },
      1,
      1 - (0.1 * 2) / Math.sqrt(4.1),
    ],
    [
      'rmsprop: s = ρ·s + (1−ρ)·g²; w − lr·g/√(s+ε)',
      { name: 'rmsprop', learning_rate: 0.1, rho: 0.9, epsilon: 1e-7 },
      1,
      1 - (0.1 * 2) / Math.sqrt(0.4 + 1e-7),
    ],
    ['adam: bias-corrected m/√v → w − lr', { name: 'adam', learning_rate: 0.1 }, 1, 0.9],
  ] as const)('%s', (_, spec, steps, expected) => {
    expect(step(spec as never, steps)).toBeCloseTo(expected, 5);
  });
});

describe('/_mock/reset and training jobs', () => {
  it('stops the running job (its stream ends cancelled), forgets every job and its files, and trains again afterwards', async () => {
    const data = await tempDataDir();
    const own = await startMockServer({ auth: false, dataDir: data.dir });
    try {
      const c = new Modelport({ baseUrl: own.url, maxRetries: 0 });
      const running = await c.trainingJobs.create({
        model: 'reset-a',
        task: 'image-classification',
        dataset: 'mnist-train',
        architecture: mlp,
        epochs: 50,
        batch_size: 8,
        optimizer: { name: 'sgd' },
      });
      const queued = await c.trainingJobs.create({
        model: 'reset-b',
        task: 'image-classification',
        dataset: 'mnist-train',
        architecture: mlp,
        epochs: 50,
        batch_size: 8,
        optimizer: { name: 'sgd' },
      });
      const seen: TrainingEvent[] = [];
      for await (const event of running.events()) {
        seen.push(event);
        if (event.type === 'started') {
          const response = await fetch(`${own.url}/_mock/reset`, { method: 'POST' });
          expect(response.status).toBe(204);
        }
      }
      expect(seen.map((e) => e.type)).toEqual(['queued', 'started', 'cancelled']);
      expect(seen.at(-1)!.error).toBe('the server was reset');
      expect(await c.trainingJobs.list().toArray()).toEqual([]);
      for (const id of [running.id, queued.id])
        await expect(c.trainingJobs.get(id)).rejects.toMatchObject({ status: 404, code: 'job_not_found' });
      for (const model of ['reset-a', 'reset-b']) await expect(c.models.get(model)).rejects.toMatchObject({ status: 404 });
      expect(await readdir(path.join(data.dir, 'training'))).toEqual([]);

      const after = await c.trainingJobs.create({
        model: 'reset-c',
        task: 'tabular-classification',
        labels: ['setosa', 'versicolor', 'virginica'],
        dataset: 'iris-train',
        architecture: { input: { name: 'features', shape: [4] }, layers: [{ type: 'dense', units: 3, activation: 'softmax' }] },
        epochs: 1,
        optimizer: { name: 'sgd' },
      });
      expect(await after.wait()).toMatchObject({ status: 'succeeded', result_version: 1 });
      expect((await c.trainingJobs.list().toArray()).map((j) => j.id)).toEqual([after.id]);
    } finally {
      await own.close();
      await data.remove();
    }
  });
});

describe('a server killed during training', () => {
  it('reports the job as failed: interrupted after restart', async () => {
    const data = await tempDataDir();
    try {
      const first = await startChildServer(data.dir);
      const a = new Modelport({ baseUrl: first.url, maxRetries: 0 });
      const job = await a.trainingJobs.create({
        model: 'doomed',
        task: 'image-classification',
        dataset: 'mnist-train',
        architecture: mlp,
        epochs: 50,
        batch_size: 16,
        optimizer: { name: 'sgd' },
      });
      for await (const event of job.events()) if (event.type === 'epoch' || event.type === 'started') break;
      await kill(first);
      const second = await startChildServer(data.dir);
      try {
        const b = new Modelport({ baseUrl: second.url, maxRetries: 0 });
        const after = await b.trainingJobs.get(job.id);
        expect(after).toMatchObject({
          status: 'failed',
          failure: { reason: 'interrupted', message: 'the server stopped while this job was running' },
          error: 'the server stopped while this job was running',
        });
        const events: TrainingEvent[] = [];
        for await (const event of b.trainingJobs.events(job.id)) events.push(event);
        expect(events[0]!.type).toBe('queued');
        expect(events.at(-1)).toMatchObject({
          type: 'failed',
          reason: 'interrupted',
          error: 'the server stopped while this job was running',
        });
      } finally {
        await kill(second, 'SIGTERM');
      }
    } finally {
      await data.remove();
    }
  });
});
