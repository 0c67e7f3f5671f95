import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Modelport } from '../src/index';
import { startMockServer, type RunningMockServer } from '../mock-server/index';
import { loadMnistSplit } from '../mock-server/datasets/mnist-split';
import { tf } from './helpers/tf';
import type * as tfTypes from '../mock-server/runtime/tfjs';

const mnist = loadMnistSplit().test;
let server: RunningMockServer;
let client: Modelport;

beforeAll(async () => {
  server = await startMockServer({ auth: false });
  client = new Modelport({ baseUrl: server.url, maxRetries: 0 });
});
afterAll(() => server?.close());

const digit = (i: number) => Array.from(mnist.x.subarray(i * 784, (i + 1) * 784));

describe('integrated gradients on the bundled models', () => {
  it.each(['digits', 'digits-mlp'])('%s: completeness holds within a few percent on held-out digits', async (model) => {
    for (const i of [0, 1, 2]) {
      const explanation = await client.models.explain(model, { data: digit(i), shape: [1, 28, 28, 1] }, { steps: 128 });
      expect(explanation.target.index).toBe(mnist.y[i]);
      expect(explanation.target.label).toBe(String(mnist.y[i]));
      const ig = explanation.attributions.integrated_gradients!;
      expect(ig.shape).toEqual([1, 28, 28, 1]);
      expect(ig.data).toBeInstanceOf(Float32Array);
      const sum = ig.data.reduce((a, b) => a + b, 0);
      const difference = explanation.target.score - explanation.baseline_score!;
      expect(Math.abs(sum - difference) / Math.abs(difference)).toBeLessThan(0.05);
      expect(explanation.completeness!.relative_error).toBeLessThan(0.05);
      // Pixels that are black in the input and the baseline get no attribution at all.
      const input = digit(i);
      expect(ig.data.every((v, k) => input[k] !== 0 || v === 0)).toBe(true);
    }
  });

  it('iris: completeness, an explicit target and baseline, and gradients that match finite differences', async () => {
    const flower = [6.3, 3.3, 6.0, 2.5];
    const baseline = [5.8, 3.0, 3.8, 1.2];
    const explanation = await client.models.explain('iris', { data: flower, shape: [1, 4] }, { target: 2, baseline, steps: 256 });
    expect(explanation.target).toMatchObject({ index: 2, label: 'virginica' });
    expect(explanation.completeness!.relative_error).toBeLessThan(0.02);

    // Plain gradients are the model's real derivative: compare with central differences.
    const model = await tf.loadLayersModel(`file://${new URL('../mock-server/models/iris/1/model.json', import.meta.url).pathname}`);
    const h = 1e-2;
    const f = (x: number[]) => (model.predict(tf.tensor2d([x])) as tfTypes.Tensor).dataSync()[2]!;
    const numeric = flower.map(
      (_, k) => (f(flower.map((v, j) => v + (j === k ? h : 0))) - f(flower.map((v, j) => v - (j === k ? h : 0)))) / (2 * h),
    );
    const analytic = Array.from(explanation.attributions.gradients!.data);
    analytic.forEach((g, k) => expect(g).toBeCloseTo(numeric[k]!, 3));
    model.dispose();
  });

  it('rejects what it cannot explain with 400', async () => {
    await expect(client.models.explain('digits', { data: digit(0).concat(digit(1)), shape: [2, 28, 28, 1] })).rejects.toMatchObject({
      status: 400,
      code: 'shape_mismatch',
    });
    await expect(client.models.explain('iris', { data: [1, 2, 3, 4], shape: [1, 4] }, { target: 3 })).rejects.toMatchObject({
      status: 400,
    });
    await expect(client.models.explain('iris', { data: [1, 2, 3, 4], shape: [1, 4] }, { baseline: [0, 0] })).rejects.toMatchObject({
      status: 400,
      code: 'data_length_mismatch',
    });
    await expect(client.models.explain('nope', { data: [1, 2, 3, 4], shape: [1, 4] })).rejects.toMatchObject({ status: 404 });
  });
});
