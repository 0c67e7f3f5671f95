/**
 * Model selection through the real server: the accurate CNN under a loose latency budget, the
 * fast MLP under a tight one (budgets derived from latencies measured here, never hard-coded),
 * impossible constraints explained per candidate, and figures that say where they came from.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadRequestError, type Modelport, type Selection, type SelectionParams } from '../src/index';
import { Contract } from '../mock-server/contract/contract';
import { loadMnistSplit } from '../mock-server/datasets/mnist-split';
import { BUNDLED } from './helpers/data-dir';
import { IRIS_LABELS } from './helpers/eval-datasets';
import { between, candidate, loose, p95 } from './helpers/eval-latency';
import { raw, startEvalServer, type EvalServer } from './helpers/eval-server';

const DIGITS: SelectionParams = { task: 'image-classification', inputs: [{ datatype: 'FP32', shape: [-1, 28, 28, 1] }] };
/** Enough timed requests per candidate for a p95 that is stable from one call to the next. */
const STEADY = 200;

let env: EvalServer;
let client: Modelport;

beforeAll(async () => {
  env = await startEvalServer();
  client = env.client;
});
afterAll(() => env?.remove());

/** The decision follows from the figures in the same answer (eligibility and the accuracy objective). */
function expectConsistent(selection: Selection, budget: number) {
  for (const c of selection.candidates) {
    const slow = c.latency_ms!.p95 > budget;
    expect(c.eligible, `${c.model}: p95 ${c.latency_ms!.p95} vs budget ${budget}`).toBe(!slow);
    expect(c.excluded_by).toEqual(slow ? ['max_p95_latency_ms'] : []);
  }
  const best = selection.candidates.filter((c) => c.eligible).sort((a, b) => b.accuracy! - a.accuracy!)[0];
  expect(selection.chosen).toEqual(best ? { model: best.model, version: best.version } : null);
}

describe('POST /v1/models:select', () => {
  it('is routed despite the colon in its path', async () => {
    const contract = new Contract();
    const match = contract.match('POST', '/v1/models:select');
    expect(match.operation?.operationId).toBe('selectModel');
    expect(contract.match('POST', '/v1/models').operation?.operationId).toBe('createModel');
    expect(contract.match('GET', '/v1/models:select')).toEqual({ operation: undefined, pathExists: true });
    expect((await raw(env.server, 'GET', '/v1/models:select')).body).toMatchObject({ status: 405, code: 'method_not_allowed' });
    const response = await raw(
      env.server,
      'POST',
      '/v1/models:select',
      JSON.stringify({ task: 'nothing-here', inputs: [{ datatype: 'FP32', shape: [-1, 4] }] }),
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('x-request-id')).toEqual(expect.any(String));
    expect(response.body).toEqual({
      task: 'nothing-here',
      objective: 'accuracy',
      constraints: {},
      dataset: null,
      chosen: null,
      explanation: "no model has task 'nothing-here'",
      candidates: [],
    });
  });

  it('picks the accurate digits CNN under a loose latency budget and the fast MLP under a tight one', async () => {
    // Measure first: accuracy decides while latency is unconstrained.
    const measured = await client.select({ ...DIGITS, constraints: { min_accuracy: 0.9 }, latency_samples: STEADY });
    expect(measured.chosen).toEqual({ model: 'digits', version: 1 });
    expect(measured.dataset).toBe('mnist-holdout');
    expect(candidate(measured, 'digits')).toMatchObject({
      eligible: true,
      rank: 1,
      accuracy: 0.981,
      size_bytes: 161157,
      sources: {
        accuracy: { kind: 'dataset', dataset: 'mnist-holdout', samples: 2000 },
        latency: { kind: 'measured', samples: STEADY },
        size: { kind: 'disk' },
      },
    });
    expect(candidate(measured, 'digits-mlp')).toMatchObject({ eligible: true, rank: 2, accuracy: 0.9405, size_bytes: 205417 });
    expect(p95(measured, 'digits')).toBeGreaterThan(p95(measured, 'digits-mlp'));

    const generous = loose(measured);
    const relaxed = await client.select({ ...DIGITS, constraints: { min_accuracy: 0.9, max_p95_latency_ms: generous } });
    expectConsistent(relaxed, generous);
    expect(relaxed.chosen).toEqual({ model: 'digits', version: 1 });
    expect(candidate(relaxed, 'digits').checks.at(-1)).toMatchObject({ constraint: 'max_p95_latency_ms', passed: true, limit: generous });

    // A budget between the two measured p95s. Latency is measured again by each call, and on a
    // shared machine a p95 moves between calls; when this call's own figures do not fall on both
    // sides of the budget, the budget is re-derived from them (each call is still checked to
    // decide exactly as its figures say).
    let budget = between(p95(measured, 'digits'), p95(measured, 'digits-mlp'));
    let tight: Selection | undefined;
    for (let attempt = 0; attempt < 6; attempt++) {
      const selection = await client.select({
        ...DIGITS,
        constraints: { min_accuracy: 0.9, max_p95_latency_ms: budget },
        latency_samples: STEADY,
      });
      expectConsistent(selection, budget);
      if (p95(selection, 'digits-mlp') <= budget && p95(selection, 'digits') > budget) {
        tight = selection;
        break;
      }
      console.log(
        `selection: budget ${budget} ms did not fall between this call's p95s (digits ${p95(selection, 'digits')}, digits-mlp ${p95(selection, 'digits-mlp')}); re-deriving`,
      );
      if (p95(selection, 'digits') > p95(selection, 'digits-mlp')) budget = between(p95(selection, 'digits'), p95(selection, 'digits-mlp'));
    }
    expect(tight, "the two models' measured p95 latencies never separated").toBeDefined();
    expect(tight!.chosen).toEqual({ model: 'digits-mlp', version: 1 });
    expect(tight!.candidates.map((c) => [c.model, c.eligible, c.rank, c.excluded_by])).toEqual([
      ['digits-mlp', true, 1, []],
      ['digits', false, null, ['max_p95_latency_ms']],
    ]);
    const slowCheck = candidate(tight!, 'digits').checks.find((c) => c.constraint === 'max_p95_latency_ms')!;
    expect(slowCheck).toEqual({
      constraint: 'max_p95_latency_ms',
      passed: false,
      value: p95(tight!, 'digits'),
      limit: budget,
      message: `p95 latency ${p95(tight!, 'digits')} ms > ${budget} ms`,
    });
    expect(tight!.explanation).toBe(
      `digits-mlp version 1 has the highest accuracy (0.9405) of the 1 eligible candidate; excluded: digits version 1 (max_p95_latency_ms)`,
    );
    console.log(
      `selection: loose budget ${generous.toFixed(1)} ms -> digits; tight budget ${budget.toFixed(3)} ms -> digits-mlp (p95 digits ${p95(tight!, 'digits')} ms, digits-mlp ${p95(tight!, 'digits-mlp')} ms)`,
    );
  });

  it('impossible constraints give an explained empty choice, naming what excluded each candidate', async () => {
    const selection = await client.select({
      ...DIGITS,
      constraints: { min_accuracy: 0.99, max_p95_latency_ms: 0.001, max_size_bytes: 100_000 },
      latency_samples: 10,
    });
    expect(selection.chosen).toBeNull();
    expect(selection.candidates.map((c) => [c.model, c.eligible, c.rank, c.excluded_by])).toEqual([
      ['digits', false, null, ['min_accuracy', 'max_p95_latency_ms', 'max_size_bytes']],
      ['digits-mlp', false, null, ['min_accuracy', 'max_p95_latency_ms', 'max_size_bytes']],
    ]);
    expect(candidate(selection, 'digits').checks).toEqual([
      { constraint: 'signature', passed: true, message: 'inputs match' },
      { constraint: 'ready', passed: true, message: 'loaded' },
      { constraint: 'dataset', passed: true, message: "runs on dataset 'mnist-holdout'" },
      { constraint: 'min_accuracy', passed: false, value: 0.981, limit: 0.99, message: 'accuracy 0.981 < 0.99' },
      {
        constraint: 'max_p95_latency_ms',
        passed: false,
        value: p95(selection, 'digits'),
        limit: 0.001,
        message: `p95 latency ${p95(selection, 'digits')} ms > 0.001 ms`,
      },
      { constraint: 'max_size_bytes', passed: false, value: 161157, limit: 100000, message: 'size 161157 bytes > 100000 bytes' },
    ]);
    expect(selection.explanation).toBe(
      'no candidate meets the constraints: digits version 1 (min_accuracy, max_p95_latency_ms, max_size_bytes); digits-mlp version 1 (min_accuracy, max_p95_latency_ms, max_size_bytes)',
    );

    const oneShort = await client.select({ ...DIGITS, constraints: { min_accuracy: 0.95, max_size_bytes: 200_000 }, latency_samples: 10 });
    expect(oneShort.chosen).toEqual({ model: 'digits', version: 1 });
    expect(candidate(oneShort, 'digits-mlp').excluded_by).toEqual(['min_accuracy', 'max_size_bytes']);
  });

  it('the size and latency objectives rank by their own figure', async () => {
    const smallest = await client.select({ ...DIGITS, objective: 'size', latency_samples: 10 });
    expect(smallest.chosen).toEqual({ model: 'digits', version: 1 }); // 161,157 bytes against 205,417
    expect(smallest.explanation).toBe('digits version 1 has the smallest size (161157 bytes) of the 2 eligible candidates');
    const fastest = await client.select({ ...DIGITS, objective: 'latency', latency_samples: 10 });
    const byP95 = [...fastest.candidates].sort((a, b) => a.latency_ms!.p95 - b.latency_ms!.p95 || b.accuracy! - a.accuracy!);
    expect(fastest.chosen).toEqual({ model: byP95[0]!.model, version: 1 });
    expect(fastest.candidates.map((c) => c.rank)).toEqual([1, 2]);
  });

  it('takes an example input instead of a signature, and runs it through every candidate', async () => {
    const mnist = loadMnistSplit().test;
    const pixels = Array.from(mnist.x.subarray(0, 784));
    const selection = await client.select({
      task: 'image-classification',
      example: { shape: [1, 28, 28, 1], data: pixels },
      latency_samples: 10,
    });
    expect(selection.dataset).toBe('mnist-holdout');
    for (const model of ['digits', 'digits-mlp']) {
      const prediction = await client.predict(model, Float32Array.from(pixels));
      const output = candidate(selection, model).example_output!;
      expect(output.label).toBe(prediction.labels![0]);
      expect(output.score).toBeCloseTo((prediction.output.data as Float32Array)[output.index]!, 5);
    }
    const mismatched = await client.select({ task: 'image-classification', inputs: [{ datatype: 'FP32', shape: [-1, 4] }] });
    expect(mismatched).toMatchObject({ chosen: null, dataset: null });
    expect(mismatched.candidates.map((c) => [c.model, c.excluded_by, c.latency_ms, c.accuracy])).toEqual([
      ['digits', ['signature'], null, null],
      ['digits-mlp', ['signature'], null, null],
    ]);
    expect(candidate(mismatched, 'digits').checks[0]).toEqual({
      constraint: 'signature',
      passed: false,
      message: "input 'image' has shape [-1,28,28,1], not [-1,4]",
    });
  });

  it("says where accuracy came from: the version's recorded metrics, its newest evaluation, or a dataset now", async () => {
    await client.models.create({ name: 'flowers', task: 'flower-classification', labels: IRIS_LABELS });
    const files = await Promise.all(
      ['model.json', 'weights.bin'].map(async (name) => ({
        name,
        data: new Uint8Array(await readFile(path.join(BUNDLED, 'iris', '1', name))),
      })),
    );
    await client.models.versions.upload(
      'flowers',
      { files },
      { metadata: { metrics: { accuracy: 0.9667, dataset: 'iris-holdout', samples: 30 } } },
    );
    const request: SelectionParams = {
      task: 'flower-classification',
      inputs: [{ name: 'features', datatype: 'FP32', shape: [-1, 4] }],
      latency_samples: 10,
    };

    // No built-in dataset is for this task: the figure recorded with the version.
    const recorded = await client.select(request);
    expect(recorded.dataset).toBeNull();
    expect(candidate(recorded, 'flowers')).toMatchObject({
      accuracy: 0.9667,
      sources: { accuracy: { kind: 'version_metrics', dataset: 'iris-holdout', samples: 30 }, latency: { kind: 'measured', samples: 10 } },
    });

    // After an evaluation, its result.
    const evaluation = await (
      await client.evaluations.create({ dataset: 'iris-holdout', models: [{ model: 'flowers' }], latency_samples: 0 })
    ).wait();
    const evaluated = await client.select(request);
    expect(candidate(evaluated, 'flowers')).toMatchObject({
      accuracy: 29 / 30,
      sources: { accuracy: { kind: 'evaluation', evaluation_id: evaluation.id, dataset: 'iris-holdout', samples: 30 } },
    });

    // With a dataset named, measured now.
    const judged = await client.select({ ...request, dataset: 'iris-holdout' });
    expect(judged.dataset).toBe('iris-holdout');
    expect(candidate(judged, 'flowers')).toMatchObject({
      accuracy: 29 / 30,
      sources: { accuracy: { kind: 'dataset', dataset: 'iris-holdout', samples: 30 } },
    });
  });

  it('refuses what it cannot judge: unknown datasets, no signature, a malformed example', async () => {
    await expect(client.select({ ...DIGITS, dataset: 'nope' })).rejects.toMatchObject({ status: 404, code: 'dataset_not_found' });
    const neither = await client.select({ task: 'image-classification' } as SelectionParams).catch((e) => e);
    expect(neither).toBeInstanceOf(BadRequestError);
    expect(neither.details).toEqual([{ path: '/inputs', message: 'is required unless example is given' }]);
    await expect(
      client.select({ task: 'image-classification', example: { shape: [1, 28, 28, 1], data: [1, 2, 3] } }),
    ).rejects.toMatchObject({
      status: 400,
      code: 'data_length_mismatch',
      details: [{ path: '/example/data', message: 'expected 784 elements for shape [1,28,28,1], received 3' }],
    });
    await expect(client.select({ ...DIGITS, constraints: { min_accuracy: 2 } })).rejects.toMatchObject({
      status: 400,
      details: [{ path: '/constraints/min_accuracy', message: 'must be <= 1' }],
    });
  });

  it('a retried selection with the same idempotency key gets the first answer', async () => {
    const body = { task: 'tabular-classification', inputs: [{ datatype: 'FP32', shape: [-1, 4] }], latency_samples: 10 };
    const first = await client.select(body as SelectionParams, { idempotencyKey: 'select-once' });
    const again = await client.transport.send({ method: 'POST', path: 'v1/models:select', json: body, idempotencyKey: 'select-once' });
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(await again.json()).toEqual(first);
    expect(first).toMatchObject({ dataset: 'iris-holdout', chosen: { model: 'iris', version: 1 } });
  });
});
