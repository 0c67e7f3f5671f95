/**
 * Attributions with the model's real gradients (tf.grad through the model):
 *  - gradients: d score / d input at the input (saliency);
 *  - integrated gradients (Sundararajan et al., 2017): (x − x′) ⊙ the average gradient along the
 *    straight path from the baseline x′ to x, by the trapezoidal rule over `steps` intervals.
 *    Completeness: the attributions sum to score(x) − score(x′), up to the discretisation error.
 */
import type * as tfTypes from '../runtime/tfjs';

export interface AttributionRequest {
  tf: typeof tfTypes;
  /** The model as a differentiable function of its (single) input. */
  model: (input: tfTypes.Tensor) => tfTypes.Tensor;
  /** One sample, batch dimension included: shape [1, ...]. */
  input: Float32Array;
  shape: number[];
  baseline: Float32Array;
  /** Output column to explain. */
  target: number;
  steps: number;
  methods: ('integrated_gradients' | 'gradients')[];
}

export interface Attributions {
  score: number;
  baselineScore: number;
  gradients?: Float32Array;
  integratedGradients?: Float32Array;
}

/** Interpolation points per chunk, to bound memory on large inputs. */
const CHUNK = 32;

export function attribute(request: AttributionRequest): Attributions {
  const { tf, model, shape, target, steps } = request;
  const score = (x: tfTypes.Tensor) => model(x).slice([0, target], [-1, 1]).reshape([-1]);
  // tidy frees every intermediate tensor; the result holds only typed arrays.
  return tf.tidy((() => {
    const x = tf.tensor(request.input, shape);
    const x0 = tf.tensor(request.baseline, shape);
    const result: Attributions = {
      score: score(x).dataSync()[0]!,
      baselineScore: score(x0).dataSync()[0]!,
    };
    // The sum over the batch makes each row's gradient its own, since rows do not interact.
    const gradOf = tf.grad((batch: tfTypes.Tensor) => score(batch).sum());
    if (request.methods.includes('gradients')) result.gradients = gradOf(x).dataSync() as Float32Array;
    if (request.methods.includes('integrated_gradients')) {
      const delta = x.sub(x0);
      let total = tf.zerosLike(x);
      for (let start = 0; start <= steps; start += CHUNK) {
        const count = Math.min(CHUNK, steps + 1 - start);
        const alphas = tf
          .range(start, start + count)
          .div(steps)
          .reshape([count, ...shape.slice(1).map(() => 1)]);
        const path = x0.add(alphas.mul(delta));
        // Trapezoidal weights: the two end points count half.
        const weights = tf
          .tensor1d(Array.from({ length: count }, (_, i) => (start + i === 0 || start + i === steps ? 0.5 : 1)))
          .reshape([count, ...shape.slice(1).map(() => 1)]);
        total = total.add(gradOf(path).mul(weights).sum(0, true));
      }
      result.integratedGradients = delta.mul(total.div(steps)).dataSync() as Float32Array;
    }
    return result;
  }) as never) as unknown as Attributions;
}
