/**
 * Datasets and evaluations, end to end through the real server and the real bundled models:
 * metrics proven on datasets whose answers are worked out by hand, the bundled models'
 * recorded held-out accuracy reproduced exactly, upload errors, 404s, and results that survive
 * restarts (including a job killed mid-run, reported as interrupted, and a queued one, run after the restart).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BadRequestError,
  ConflictError,
  EvaluationFailedError,
  Modelport,
  NotFoundError,
  type Evaluation,
  type EvaluationResult,
} from '../src/index';
import { ConfusionMatrix, LossAccumulator, percentile } from '../mock-server/evaluation/metrics';
import { BUNDLED } from './helpers/data-dir';
import { kill, startChildServer } from './helpers/child-server';
import { IRIS_LABELS, expectedLoss, irisByPrediction, realise, type PredictedSample } from './helpers/eval-datasets';
import { raw, startEvalServer, type EvalServer } from './helpers/eval-server';

/** Equal to a hand-computed fraction, to the last few bits of a double. */
const fraction = (value: number, expected: number) => expect(value).toBeCloseTo(expected, 12);
const recorded = async (model: string) => JSON.parse(await readFile(path.join(BUNDLED, model, '1', 'version.json'), 'utf8'));

describe('metrics, computed by hand', () => {
  // rows = true class, columns = predicted; 8 samples, 3 classes.
  const matrix = [
    [2, 1, 0],
    [0, 1, 1],
    [0, 1, 2],
  ];
  const truths = matrix.flatMap((row, t) => row.flatMap((count) => Array(count).fill(t)));
  const predictions = matrix.flatMap((row) => row.flatMap((count, p) => Array(count).fill(p)));

  it('confusion matrix, per-class precision, recall and F1, macro and weighted averages', () => {
    const report = ConfusionMatrix.from(truths, predictions, 3).report(['a', 'b', 'c']);
    expect(ConfusionMatrix.from(truths, predictions, 3).counts).toEqual(matrix);
    expect(report.samples).toBe(8);
    expect(report.correct).toBe(5);
    fraction(report.accuracy, 5 / 8);
    // a: TP 2, predicted 2, support 3.  b: TP 1, predicted 3, support 2.  c: TP 2, predicted 3, support 3.
    expect(report.perClass.map((m) => [m.label, m.support, m.predicted])).toEqual([
      ['a', 3, 2],
      ['b', 2, 3],
      ['c', 3, 3],
    ]);
    fraction(report.perClass[0]!.precision, 1);
    fraction(report.perClass[0]!.recall, 2 / 3);
    fraction(report.perClass[0]!.f1, 4 / 5); // 2·1·(2/3) / (1 + 2/3)
    fraction(report.perClass[1]!.precision, 1 / 3);
    fraction(report.perClass[1]!.recall, 1 / 2);
    fraction(report.perClass[1]!.f1, 2 / 5); // 2·(1/3)·(1/2) / (1/3 + 1/2)
    fraction(report.perClass[2]!.precision, 2 / 3);
    fraction(report.perClass[2]!.recall, 2 / 3);
    fraction(report.perClass[2]!.f1, 2 / 3);
    expect(report.macro.classes).toBe(3);
    fraction(report.macro.precision, 2 / 3); // (1 + 1/3 + 2/3) / 3
    fraction(report.macro.recall, 11 / 18); // (2/3 + 1/2 + 2/3) / 3
    fraction(report.macro.f1, 28 / 45); // (4/5 + 2/5 + 2/3) / 3
    fraction(report.weighted.precision, 17 / 24); // (3·1 + 2·1/3 + 3·2/3) / 8
    fraction(report.weighted.recall, 5 / 8);
    fraction(report.weighted.f1, 13 / 20); // (3·4/5 + 2·2/5 + 3·2/3) / 8
  });

  it('0/0 is 0, and classes absent from truth and predictions are not averaged', () => {
    // Three samples of class a; the model says a, a, b. Class c never occurs.
    const report = ConfusionMatrix.from([0, 0, 0], [0, 0, 1], 3).report(['a', 'b', 'c']);
    expect(report.perClass[1]).toMatchObject({ support: 0, predicted: 1, precision: 0, recall: 0, f1: 0 }); // 0/1, 0/0
    expect(report.perClass[2]).toMatchObject({ support: 0, predicted: 0, precision: 0, recall: 0, f1: 0 }); // 0/0 everywhere
    expect(report.macro.classes).toBe(2);
    fraction(report.macro.precision, 1 / 2);
    fraction(report.macro.recall, 1 / 3);
    fraction(report.macro.f1, 2 / 5);
    fraction(report.weighted.precision, 1);
    fraction(report.weighted.recall, 2 / 3);
    fraction(report.weighted.f1, 4 / 5);
    const empty = new ConfusionMatrix(2).report(['a', 'b']);
    expect(empty).toMatchObject({
      samples: 0,
      accuracy: 0,
      macro: { precision: 0, recall: 0, f1: 0, classes: 0 },
      weighted: { precision: 0, recall: 0, f1: 0 },
    });
  });

  it('cross-entropy: natural log of the clipped probability, or of softmax when the output is not a distribution', () => {
    const probabilities = new LossAccumulator();
    probabilities.add([0.7, 0.2, 0.1], 0, 3, 0);
    probabilities.add([0.1, 0.9, 0], 0, 3, 2); // p = 0 is clipped to 1e-7
    expect(probabilities.result().probabilities).toBe('output');
    fraction(probabilities.result().loss, -(Math.log(0.7) + Math.log(1e-7)) / 2);
    const logits = new LossAccumulator();
    logits.add([2, 1, 0], 0, 3, 1);
    const softmax1 = Math.exp(1) / (Math.exp(2) + Math.exp(1) + Math.exp(0));
    expect(logits.result().probabilities).toBe('softmax');
    fraction(logits.result().loss, -Math.log(softmax1));
  });

  it('percentiles are nearest-rank', () => {
    const values = Array.from({ length: 20 }, (_, i) => 20 - i); // 20 … 1
    expect(percentile(values, 0.5)).toBe(10);
    expect(percentile(values, 0.95)).toBe(19);
    expect(percentile([7], 0.95)).toBe(7);
  });
});

describe('evaluations on the real runtime', () => {
  let env: EvalServer;
  let client: Modelport;
  let groups: PredictedSample[][];

  beforeAll(async () => {
    env = await startEvalServer();
    client = env.client;
    groups = await irisByPrediction(client);
  });
  afterAll(() => env?.remove());

  it('a hand-made dataset through the iris model gives exactly the hand-computed metrics', async () => {
    const { records, samples } = realise(groups, [
      [2, 1, 0],
      [0, 1, 1],
      [0, 1, 2],
    ]);
    const dataset = await client.datasets.create({ name: 'hand-made', records, labels: IRIS_LABELS, task: 'tabular-classification' });
    expect(dataset).toMatchObject({
      name: 'hand-made',
      source: 'upload',
      format: 'jsonl',
      read_only: false,
      samples: 8,
      shape: [4],
      labels: IRIS_LABELS,
      class_counts: [3, 2, 3],
      size_bytes: 8 * 4 * 4 + 8 * 4,
    });

    const job = await client.evaluations.create({ dataset: 'hand-made', models: [{ model: 'iris', version: 1 }], latency_samples: 8 });
    expect(job).toMatchObject({
      status: 'queued',
      progress: 0,
      dataset: 'hand-made',
      models: [{ model: 'iris', version: 1, requested: '1' }],
      batch_size: 250,
      latency_samples: 8,
      results: [],
    });
    const done = await job.wait();
    expect(done).toMatchObject({ id: job.id, status: 'succeeded', progress: 1 });
    const [result] = done.results as [EvaluationResult];
    expect(result).toMatchObject({ model: 'iris', version: 1, dataset: 'hand-made', samples: 8, correct: 5, probabilities: 'output' });
    expect(result.confusion_matrix).toEqual({
      labels: IRIS_LABELS,
      matrix: [
        [2, 1, 0],
        [0, 1, 1],
        [0, 1, 2],
      ],
    });
    fraction(result.accuracy, 5 / 8);
    expect(result.per_class.map((m) => [m.label, m.index, m.support, m.predicted])).toEqual([
      ['setosa', 0, 3, 2],
      ['versicolor', 1, 2, 3],
      ['virginica', 2, 3, 3],
    ]);
    const expected = [
      [1, 2 / 3, 4 / 5],
      [1 / 3, 1 / 2, 2 / 5],
      [2 / 3, 2 / 3, 2 / 3],
    ];
    result.per_class.forEach((m, c) => {
      fraction(m.precision, expected[c]![0]!);
      fraction(m.recall, expected[c]![1]!);
      fraction(m.f1, expected[c]![2]!);
    });
    expect(result.macro.classes).toBe(3);
    fraction(result.macro.precision, 2 / 3);
    fraction(result.macro.recall, 11 / 18);
    fraction(result.macro.f1, 28 / 45);
    fraction(result.weighted.precision, 17 / 24);
    fraction(result.weighted.recall, 5 / 8);
    fraction(result.weighted.f1, 13 / 20);
    // The loss from the probabilities the model gave through /v2 (float32: equal to ~1e-6).
    expect(result.loss).toBeCloseTo(expectedLoss(samples), 5);
    expect(result.latency_ms.per_sample).toMatchObject({ samples: 8, warmup: 8 });
    expect(result.latency_ms.per_batch).toMatchObject({ batches: 1, batch_size: 250 });
    expect(result.latency_ms.per_sample!.p95).toBeGreaterThanOrEqual(result.latency_ms.per_sample!.p50);
    expect(result.size_bytes).toBe((await recorded('iris')).size_bytes); // model.json + weights.bin on disk

    const summaries = await client.evaluations.listForVersion('iris', 1);
    expect(summaries.data[0]).toEqual({
      evaluation_id: job.id,
      model: 'iris',
      version: 1,
      dataset: 'hand-made',
      samples: 8,
      accuracy: result.accuracy,
      loss: result.loss,
      macro_f1: result.macro.f1,
      weighted_f1: result.weighted.f1,
      latency_p50_ms: result.latency_ms.per_sample!.p50,
      latency_p95_ms: result.latency_ms.per_sample!.p95,
      size_bytes: result.size_bytes,
      finished_at: done.finished_at,
    });
  });

  it('classes missing from a dataset score 0/0 = 0 and drop out of the macro average', async () => {
    // All three flowers are setosa; the model calls two of them setosa and one versicolor.
    const { records } = realise(groups, [
      [2, 1, 0],
      [0, 0, 0],
      [0, 0, 0],
    ]);
    const csv = `f1,f2,f3,f4,label\n${records.map((r) => `${r.tensor.join(',')},${r.label}`).join('\n')}\n`;
    await client.datasets.create({ name: 'setosa-only', csv, labels: IRIS_LABELS });
    const done = await (
      await client.evaluations.create({ dataset: 'setosa-only', models: [{ model: 'iris' }], latency_samples: 0 })
    ).wait();
    const [result] = done.results as [EvaluationResult];
    expect(result.confusion_matrix.matrix).toEqual([
      [2, 1, 0],
      [0, 0, 0],
      [0, 0, 0],
    ]);
    expect(result.per_class[1]).toMatchObject({ support: 0, predicted: 1, precision: 0, recall: 0, f1: 0 });
    expect(result.per_class[2]).toMatchObject({ support: 0, predicted: 0, precision: 0, recall: 0, f1: 0 });
    expect(result.macro.classes).toBe(2);
    fraction(result.macro.precision, 1 / 2);
    fraction(result.macro.recall, 1 / 3);
    fraction(result.macro.f1, 2 / 5);
    fraction(result.weighted.f1, 4 / 5);
    expect(result.latency_ms.per_sample).toBeNull();
    expect(done.models).toEqual([{ model: 'iris', version: 1, requested: 'default' }]);
  });

  it('the full mnist-holdout evaluation reproduces the accuracy recorded for digits (0.981) and digits-mlp (0.9405)', async () => {
    const stats = async () => (await (await fetch(`${env.server.url}/v2/models/digits/versions/1/stats`)).json()).model_stats[0];
    const before = await stats();
    const job = await client.evaluations.create({
      dataset: 'mnist-holdout',
      models: [
        { model: 'digits', version: 'production' },
        { model: 'digits-mlp', version: 1 },
      ],
    });
    const progress: number[] = [];
    const done = await job.wait({ onProgress: (e) => progress.push(e.progress) });
    expect(progress.every((p, i) => i === 0 || p >= progress[i - 1]!)).toBe(true);
    expect(done.models).toEqual([
      { model: 'digits', version: 1, requested: 'production' },
      { model: 'digits-mlp', version: 1, requested: '1' },
    ]);
    const [cnn, mlp] = done.results as [EvaluationResult, EvaluationResult];
    const holdout = await client.datasets.get('mnist-holdout');
    for (const [result, model, correct] of [
      [cnn, 'digits', 1962],
      [mlp, 'digits-mlp', 1881],
    ] as const) {
      const metrics = (await recorded(model)).metrics;
      expect(result.accuracy).toBe(metrics.accuracy);
      expect(result.samples).toBe(2000);
      expect(result.correct).toBe(correct);
      expect(Math.round(result.loss * 1e4) / 1e4).toBe(metrics.loss);
      expect(result.confusion_matrix.matrix.map((row) => row.reduce((a, b) => a + b, 0))).toEqual(holdout.class_counts);
      expect(result.confusion_matrix.matrix.reduce((n, row, i) => n + row[i]!, 0)).toBe(correct);
      expect(result.size_bytes).toBe((await recorded(model)).size_bytes);
      expect(result.latency_ms.per_batch).toMatchObject({ batches: 8, batch_size: 250 });
      expect(result.latency_ms.per_sample).toMatchObject({ samples: 50, warmup: 10 });
    }
    expect(cnn.accuracy).toBe(0.981);
    expect(mlp.accuracy).toBe(0.9405);
    // It ran on the served version through its batcher: 2,000 samples in 8 calls, then 10 + 50 single requests.
    const after = await stats();
    expect(after.inference_count - before.inference_count).toBe(2000 + 60);
    expect(after.execution_count - before.execution_count).toBe(8 + 60);
    console.log(
      `mnist-holdout: digits accuracy ${cnn.accuracy}, macro F1 ${cnn.macro.f1.toFixed(4)}, p50/p95 ${cnn.latency_ms.per_sample!.p50}/${cnn.latency_ms.per_sample!.p95} ms; digits-mlp accuracy ${mlp.accuracy}, macro F1 ${mlp.macro.f1.toFixed(4)}, p50/p95 ${mlp.latency_ms.per_sample!.p50}/${mlp.latency_ms.per_sample!.p95} ms`,
    );

    const listed = await client.evaluations.list({ model: 'digits-mlp', status: 'succeeded' });
    expect(listed.data.map((e) => e.id)).toEqual([job.id]);
  });

  it('lists newest first with cursors, filters, and replays a create with the same idempotency key', async () => {
    const first = await client.evaluations.create(
      { dataset: 'iris-holdout', models: [{ model: 'iris' }], latency_samples: 0 },
      { idempotencyKey: 'eval-once' },
    );
    const again = await client.evaluations.create(
      { dataset: 'iris-holdout', models: [{ model: 'iris' }], latency_samples: 0 },
      { idempotencyKey: 'eval-once' },
    );
    expect(again.id).toBe(first.id);
    await first.wait();
    const all = await client.evaluations.list().toArray();
    const paged = await client.evaluations.list({ limit: 2 }).toArray();
    expect(paged.map((e) => e.id)).toEqual(all.map((e) => e.id));
    expect(all[0]!.id).toBe(first.id);
    expect(all.map((e) => e.created_at)).toEqual([...all.map((e) => e.created_at)].sort().reverse());
    expect((await client.evaluations.list({ dataset: 'iris-holdout' })).data.map((e) => e.id)).toEqual([first.id]);
    expect((await client.evaluations.list({ status: 'failed' })).data).toEqual([]);
  });
});

describe('datasets', () => {
  let env: EvalServer;
  let client: Modelport;

  beforeAll(async () => {
    env = await startEvalServer();
    client = env.client;
  });
  afterAll(() => env?.remove());

  it('the built-in held-out splits always exist and are read-only', async () => {
    const names = (await client.datasets.list().toArray()).map((d) => d.name);
    expect(names).toEqual(expect.arrayContaining(['iris-holdout', 'mnist-holdout']));
    expect(await client.datasets.get('mnist-holdout')).toMatchObject({
      source: 'builtin',
      read_only: true,
      samples: 2000,
      shape: [28, 28, 1],
      labels: [...'0123456789'],
      task: 'image-classification',
    });
    expect(await client.datasets.get('iris-holdout')).toMatchObject({
      source: 'builtin',
      samples: 30,
      shape: [4],
      labels: IRIS_LABELS,
      class_counts: [10, 10, 10],
    });
    await expect(client.datasets.delete('mnist-holdout')).rejects.toMatchObject({ status: 409, code: 'dataset_read_only' });
    await expect(client.datasets.create({ name: 'iris-holdout', records: [{ tensor: [1], label: 'a' }] })).rejects.toMatchObject({
      status: 409,
      code: 'dataset_exists',
    });
  });

  it('CSV with a header anywhere, CSV label-last, JSON lines; derived labels; list, get, delete', async () => {
    const headed = await client.datasets.create({
      name: 'label-first',
      csv: 'label,a,b\r\n2,0.5,1e-3\n10,"1",-2\n\n2,3,4\n',
      shape: [2, 1],
      description: 'tiny',
    });
    expect(headed).toMatchObject({
      format: 'csv',
      samples: 3,
      shape: [2, 1],
      labels: ['2', '10'],
      class_counts: [2, 1],
      description: 'tiny',
    });
    const plain = await client.datasets.create({ name: 'label-last', csv: '1,2,b\n3,4,a\n5,6,b\n' });
    expect(plain).toMatchObject({ samples: 3, shape: [2], labels: ['a', 'b'], class_counts: [1, 2] });
    const lines = await client.datasets.create({ name: 'lines', jsonl: '{"tensor":[1,2],"label":7}\n\n{"tensor":[3,4],"label":"7"}\n' });
    expect(lines).toMatchObject({ format: 'jsonl', samples: 2, labels: ['7'], class_counts: [2] });
    // Stored exactly: float32 on disk, read back in order.
    const stored = await readFile(path.join(env.dataDir, 'datasets', 'label-first', 'tensors.f32'));
    expect(Array.from(new Float32Array(stored.buffer, stored.byteOffset, 6))).toEqual(
      Array.from(Float32Array.from([0.5, 1e-3, 1, -2, 3, 4])),
    );

    const page = await client.datasets.list({ limit: 2 });
    expect(page.data.map((d) => d.name)).toEqual(['iris-holdout', 'iris-train']);
    expect(page.next_cursor).toEqual(expect.any(String));
    expect((await client.datasets.list({ limit: 3 }).toArray()).map((d) => d.name)).toEqual([
      'iris-holdout',
      'iris-train',
      'label-first',
      'label-last',
      'lines',
      'mnist-holdout',
      'mnist-train',
    ]);
    expect(await client.datasets.get('lines')).toEqual(lines);
    await client.datasets.delete('lines');
    await expect(client.datasets.get('lines')).rejects.toBeInstanceOf(NotFoundError);
    await expect(client.datasets.delete('lines')).rejects.toMatchObject({ status: 404, code: 'dataset_not_found' });
  });

  it.each([
    [
      'an unterminated quote',
      'text/csv',
      'a,b,label\n1,"2,x\n',
      'invalid_csv',
      [{ path: '/line/2/column/2', message: 'a quoted field must be one "..." holding no comma, quote or line break' }],
    ],
    [
      'a field that is not a number',
      'text/csv',
      '1,2,a\n1,zwei,a\n',
      'invalid_csv',
      [{ path: '/line/2/column/2', message: "'zwei' is not a number" }],
    ],
    [
      'rows of the wrong width',
      'text/csv',
      'x,y,label\n1,2,a\n1,2,3,a\n1,a\n',
      'row_width_mismatch',
      [
        { path: '/line/3', message: 'expected 3 fields (2 elements and a label, as the header says), found 4' },
        { path: '/line/4', message: 'expected 3 fields (2 elements and a label, as the header says), found 2' },
      ],
    ],
    [
      'records of the wrong width (JSON lines)',
      'application/x-ndjson',
      '{"tensor":[1,2],"label":"a"}\n{"tensor":[1],"label":"a"}\n',
      'row_width_mismatch',
      [{ path: '/line/2/tensor', message: 'has 1 elements; the first record has 2' }],
    ],
    [
      'bad JSON lines',
      'application/jsonl',
      '{"tensor":[1,2],"label":"a"}\nnot json\n{"tensor":[[1],[2]],"label":"a","id":3}\n{"tensor":[1,2],"label":1.5}\n',
      'invalid_json_lines',
      [
        { path: '/line/2', message: expect.stringMatching(/^is not JSON: /) },
        { path: '/line/3/id', message: 'is not allowed (a record has exactly "tensor" and "label")' },
        { path: '/line/3/tensor/0', message: "must be a number (the tensor is flat; the dataset's shape says how to read it)" },
        { path: '/line/4/label', message: 'must be a non-empty string or an integer' },
      ],
    ],
    ['no records', 'text/csv', '\n\n', 'empty_dataset', [{ path: '/', message: 'holds no records' }]],
  ])('refuses %s with 400 and details', async (_, type, body, code, details) => {
    const response = await raw(env.server, 'POST', `/v1/datasets?name=bad-${code}`, body, type);
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ status: 400, code, details });
    expect(response.body.details).toHaveLength(details.length);
    expect((await raw(env.server, 'GET', `/v1/datasets/bad-${code}`)).status).toBe(404);
  });

  it('refuses labels outside the declared ones, a shape that does not fit, and other media types', async () => {
    const unknown = await client.datasets
      .create({ name: 'flowers', labels: IRIS_LABELS, csv: '5.1,3.5,1.4,0.2,setosa\n6.3,3.3,6.0,2.5,rose\n7,3,5,2,tulip\n' })
      .catch((e) => e);
    expect(unknown).toBeInstanceOf(BadRequestError);
    expect(unknown).toMatchObject({
      code: 'unknown_label',
      details: [
        { path: '/line/2/column/5', message: "label 'rose' is not one of the declared labels (setosa, versicolor, virginica)" },
        { path: '/line/3/column/5', message: "label 'tulip' is not one of the declared labels (setosa, versicolor, virginica)" },
      ],
    });
    await expect(client.datasets.create({ name: 'flowers', shape: [3], records: [{ tensor: [1, 2], label: 'a' }] })).rejects.toMatchObject({
      status: 400,
      code: 'shape_mismatch',
      details: [{ path: 'query/shape', message: 'must multiply to 2, the record width' }],
    });
    await expect(
      client.datasets.create({ name: 'flowers', labels: ['a', 'a'], records: [{ tensor: [1], label: 'a' }] }),
    ).rejects.toMatchObject({ status: 400, details: [{ path: 'query/labels', message: "'a' is given twice" }] });
    expect((await raw(env.server, 'POST', '/v1/datasets?name=flowers', '{"tensor":[1],"label":"a"}')).body).toMatchObject({
      status: 415,
      code: 'unsupported_media_type',
    });
    expect((await raw(env.server, 'POST', '/v1/datasets', '1,a', 'text/csv')).body).toMatchObject({
      status: 400,
      details: [{ path: 'query/name', message: 'is required' }],
    });
    await expect(client.datasets.get('flowers')).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('errors', () => {
  let env: EvalServer;
  let client: Modelport;

  beforeAll(async () => {
    env = await startEvalServer();
    client = env.client;
  });
  afterAll(() => env?.remove());

  it('unknown model, version, alias, dataset and evaluation are 404', async () => {
    await expect(client.evaluations.create({ dataset: 'iris-holdout', models: [{ model: 'ghost' }] })).rejects.toMatchObject({
      status: 404,
      code: 'model_not_found',
    });
    await expect(client.evaluations.create({ dataset: 'iris-holdout', models: [{ model: 'iris', version: 9 }] })).rejects.toMatchObject({
      status: 404,
      code: 'version_not_found',
    });
    await expect(
      client.evaluations.create({ dataset: 'iris-holdout', models: [{ model: 'iris', version: 'nightly' }] }),
    ).rejects.toMatchObject({ status: 404, code: 'version_not_found' });
    await expect(client.evaluations.create({ dataset: 'nope', models: [{ model: 'iris' }] })).rejects.toMatchObject({
      status: 404,
      code: 'dataset_not_found',
    });
    await expect(client.evaluations.get('ev_000000000000')).rejects.toMatchObject({ status: 404, code: 'evaluation_not_found' });
    await expect(client.evaluations.listForVersion('iris', 7)).rejects.toMatchObject({ status: 404, code: 'version_not_found' });
    await expect(client.evaluations.listForVersion('ghost', 1)).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
    await expect(client.datasets.get('nope')).rejects.toMatchObject({ status: 404, code: 'dataset_not_found' });
    expect((await raw(env.server, 'GET', '/v1/evaluations/not-an-id')).body).toMatchObject({
      status: 400,
      details: [{ path: 'path/evaluation_id' }],
    });
  });

  it('a dataset a model cannot take, a canary alias, a repeated target and an unloaded version are refused up front', async () => {
    const incompatible = await client.evaluations
      .create({ dataset: 'mnist-holdout', models: [{ model: 'digits' }, { model: 'iris' }] })
      .catch((e) => e);
    expect(incompatible).toMatchObject({
      status: 400,
      code: 'incompatible_dataset',
      details: [
        { path: '/models/1', message: "iris version 1 takes samples of shape [4] (4 elements); dataset 'mnist-holdout' records have 784" },
        {
          path: '/models/1',
          message:
            "iris version 1 has no classes '0', '1', '2', '3', '4', … of dataset 'mnist-holdout' (its labels: setosa, versicolor, virginica)",
        },
      ],
    });
    const files = await Promise.all(
      ['model.json', 'weights.bin'].map(async (name) => ({
        name,
        data: new Uint8Array(await readFile(path.join(BUNDLED, 'iris', '1', name))),
      })),
    );
    const second = await client.models.versions.upload('iris', { files });
    await client.models.aliases.set('iris', 'canary', [
      { version: 1, weight: 50 },
      { version: second.version, weight: 50 },
    ]);
    const canary = await client.evaluations
      .create({ dataset: 'iris-holdout', models: [{ model: 'iris', version: 'canary' }] })
      .catch((e) => e);
    expect(canary).toMatchObject({
      status: 400,
      code: 'ambiguous_alias',
      details: [{ path: '/models/0/version', message: 'names a canary alias; give a version number' }],
    });
    await client.models.aliases.delete('iris', 'canary');
    await client.models.versions.delete('iris', second.version);
    const repeated = await client.evaluations
      .create({ dataset: 'iris-holdout', models: [{ model: 'iris' }, { model: 'iris', version: 1 }] })
      .catch((e) => e);
    expect(repeated).toMatchObject({ status: 400, details: [{ path: '/models/1', message: 'iris version 1 is already target 0' }] });
    await client.models.versions.unload('iris', 1);
    try {
      const unloaded = await client.evaluations.create({ dataset: 'iris-holdout', models: [{ model: 'iris' }] }).catch((e) => e);
      expect(unloaded).toBeInstanceOf(ConflictError);
      expect(unloaded.code).toBe('version_not_ready');
    } finally {
      await client.models.versions.load('iris', 1);
    }
    expect((await raw(env.server, 'POST', '/v1/evaluations', JSON.stringify({ dataset: 'iris-holdout', models: [] }))).body).toMatchObject({
      status: 400,
      code: 'invalid_request',
      details: [{ path: '/models', message: 'must NOT have fewer than 1 items' }],
    });
  });

  it("the test controls' reset removes uploaded datasets and evaluations", async () => {
    await client.datasets.create({ name: 'scratch', records: [{ tensor: [5.1, 3.5, 1.4, 0.2], label: 'setosa' }], labels: IRIS_LABELS });
    const done = await (await client.evaluations.create({ dataset: 'scratch', models: [{ model: 'iris' }], latency_samples: 0 })).wait();
    await env.server.controls.reset();
    expect((await client.datasets.list().toArray()).map((d) => d.source)).toEqual(['builtin', 'builtin', 'builtin', 'builtin']);
    await expect(client.evaluations.get(done.id)).rejects.toMatchObject({ status: 404, code: 'evaluation_not_found' });
    expect((await client.evaluations.list()).data).toEqual([]);
    expect((await client.evaluations.listForVersion('iris', 1)).data).toEqual([]);
  });
});

describe('restarts', () => {
  it('datasets and results survive a restart; a job killed mid-run is reported failed: interrupted, a queued one runs', async () => {
    const first = await startEvalServer();
    const dataDir = first.dataDir;
    let finished: Evaluation;
    try {
      await first.client.datasets.create({
        name: 'flowers',
        csv: '5.1,3.5,1.4,0.2,setosa\n6.3,3.3,6.0,2.5,virginica\n',
        labels: IRIS_LABELS,
      });
      finished = await (
        await first.client.evaluations.create({ dataset: 'flowers', models: [{ model: 'iris' }], latency_samples: 2 })
      ).wait();
      await first.close();

      // A separate process on the same data dir sees everything, then dies in the middle of a job.
      const child = await startChildServer(dataDir);
      const other = new Modelport({ baseUrl: child.url, maxRetries: 0 });
      expect(await other.evaluations.get(finished.id)).toEqual(finished);
      expect((await other.datasets.get('flowers')).class_counts).toEqual([1, 0, 1]);
      const slow = await other.evaluations.create({ dataset: 'mnist-holdout', models: [{ model: 'digits' }], batch_size: 1 });
      // Progress moves only after the job's 'running' record is on disk and its first batch ran.
      for (let polls = 0; (await other.evaluations.get(slow.id)).progress === 0; polls++) {
        if (polls > 200) throw new Error('the evaluation never started');
        await new Promise((r) => setTimeout(r, 20));
      }
      const waiting = await other.evaluations.create({ dataset: 'flowers', models: [{ model: 'iris' }], latency_samples: 0 });
      await kill(child);

      const after = await startEvalServer(dataDir);
      try {
        const interrupted = await after.client.evaluations.get(slow.id);
        expect(interrupted).toMatchObject({
          status: 'failed',
          results: [],
          failure: { reason: 'interrupted', message: 'the server stopped while this job was running' },
        });
        await expect(after.client.evaluations.wait(slow.id)).rejects.toBeInstanceOf(EvaluationFailedError);
        await expect(after.client.evaluations.wait(slow.id)).rejects.toMatchObject({ reason: 'interrupted' });
        expect(await after.client.evaluations.wait(waiting.id)).toMatchObject({
          status: 'succeeded',
          results: [{ model: 'iris', samples: 2 }],
        });
        expect(await after.client.evaluations.get(finished.id)).toEqual(finished);
        expect((await after.client.evaluations.listForVersion('iris', 1)).data.map((s) => s.evaluation_id)).toEqual([
          waiting.id,
          finished.id,
        ]);
        expect((await after.client.evaluations.list()).data.map((e) => [e.id, e.status])).toEqual([
          [waiting.id, 'succeeded'],
          [slow.id, 'failed'],
          [finished.id, 'succeeded'],
        ]);
        const stored = JSON.parse(await readFile(path.join(dataDir, 'evaluations', `${slow.id}.json`), 'utf8'));
        expect(stored).toMatchObject({ status: 'failed', failure: { reason: 'interrupted' } });
      } finally {
        await after.close();
      }
    } finally {
      await first.remove();
    }
  });
});
