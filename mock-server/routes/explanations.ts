/** Explanations of single predictions: integrated gradients and gradients. */
import type { components } from 'modelport';
import type { RouteTable } from '../server/context';
import { badRequest, HttpError } from '../http/errors';
import { json } from '../http/respond';
import { attribute } from '../explain/attributions';
import { checkAgainstSpec, decodeJsonInput } from '../runtime/tensors';

type ExplainRequest = components['schemas']['ExplainRequest'];
const DEFAULT_STEPS = 64;

export const explanationRoutes: RouteTable = {
  explainModel: ({ state, params, body }) => {
    const request = body as ExplainRequest;
    const served = state.models.resolve(params.model_name!, request.version);
    const { config } = served;
    if (served.state !== 'READY' || !served.loaded)
      throw new HttpError(503, 'model_not_ready', `model '${served.name}' version ${served.version} is not ready`, undefined, {
        'retry-after': '1',
      });
    const differentiable = served.loaded.differentiable;
    if (!differentiable)
      throw badRequest(
        `explanations need a TF.js model; version ${served.version} of '${served.name}' is a ${config.platform}`,
        undefined,
        'unsupported_model',
      );
    if (config.inputs.length !== 1) throw badRequest('explanations support models with one input', undefined, 'unsupported_model');
    const spec = config.inputs[0]!;
    if (spec.datatype !== 'FP32' && spec.datatype !== 'FP16' && spec.datatype !== 'FP64')
      throw badRequest(`attributions need a floating-point input; '${spec.name}' is ${spec.datatype}`, undefined, 'unsupported_model');
    const input = request.inputs[0]!;
    if (input.name !== spec.name)
      throw badRequest(
        `model '${served.name}' has no input '${input.name}' (its input is '${spec.name}')`,
        [{ path: '/inputs/0/name', message: `expected '${spec.name}'` }],
        'unknown_input',
      );
    // What the input declares is checked before its data is decoded: a wrong or oversized request costs nothing more.
    checkAgainstSpec(input, spec, 0);
    if (input.shape[0] !== 1)
      throw badRequest(
        'explain one sample at a time (batch size 1)',
        [{ path: '/inputs/0/shape', message: 'the first dimension must be 1' }],
        'shape_mismatch',
      );
    const tensor = decodeJsonInput(input, 0);
    const values = tensor.values as Float32Array;

    const outputIndex = request.output === undefined ? 0 : config.outputs.findIndex((o) => o.name === request.output);
    if (outputIndex < 0)
      throw badRequest(
        `model '${served.name}' has no output '${request.output}'`,
        [{ path: '/output', message: 'unknown output' }],
        'unknown_output',
      );
    const classes = config.outputs[outputIndex]!.shape.at(-1)!;
    const baseline = baselineOf(request.baseline, values.length);
    const model = (x: import('../runtime/tfjs').Tensor) => differentiable([x])[outputIndex]!;

    const { tf } = state.runtime;
    const predicted = tf.tidy(() => Array.from(model(tf.tensor(values, tensor.shape)).dataSync()));
    checkFinite(predicted, 'score');
    const target = request.target ?? predicted.indexOf(Math.max(...predicted));
    if (target >= classes)
      throw badRequest(`target ${target} is beyond the ${classes} classes of '${config.outputs[outputIndex]!.name}'`, [
        { path: '/target', message: `must be below ${classes}` },
      ]);

    const methods = request.methods ?? ['integrated_gradients', 'gradients'];
    const result = attribute({
      tf,
      model,
      input: values,
      shape: tensor.shape,
      baseline,
      target,
      steps: request.steps ?? DEFAULT_STEPS,
      methods,
    });
    checkFinite([result.score, result.baselineScore], 'score');
    if (result.integratedGradients) checkFinite(result.integratedGradients, 'integrated-gradients attribution');
    if (result.gradients) checkFinite(result.gradients, 'gradient');
    const attributions: Record<string, { shape: number[]; data: number[] }> = {};
    if (result.integratedGradients)
      attributions.integrated_gradients = { shape: tensor.shape, data: Array.from(result.integratedGradients) };
    if (result.gradients) attributions.gradients = { shape: tensor.shape, data: Array.from(result.gradients) };
    const explanation: components['schemas']['Explanation'] = {
      model: served.name,
      version: served.version,
      target: { index: target, ...(config.labels?.[target] !== undefined ? { label: config.labels[target] } : {}), score: result.score },
      baseline_score: result.baselineScore,
      attributions,
    };
    if (result.integratedGradients) {
      const sum = result.integratedGradients.reduce((a, b) => a + b, 0);
      const difference = result.score - result.baselineScore;
      explanation.completeness = {
        sum,
        score_difference: difference,
        relative_error: Math.abs(sum - difference) / Math.max(Math.abs(difference), 1e-12),
      };
    }
    return json(explanation);
  },
};

function baselineOf(baseline: ExplainRequest['baseline'], size: number): Float32Array {
  let values: Float32Array;
  if (baseline === undefined || baseline === 'zeros') return new Float32Array(size);
  if (typeof baseline === 'number') values = new Float32Array(size).fill(baseline);
  else if (Array.isArray(baseline)) {
    if (baseline.length !== size)
      throw badRequest(
        `the baseline has ${baseline.length} elements; the input has ${size}`,
        [{ path: '/baseline', message: `needs ${size} elements` }],
        'data_length_mismatch',
      );
    values = Float32Array.from(baseline);
  } else {
    throw badRequest('baseline must be "zeros", a number or an array', [{ path: '/baseline', message: 'invalid baseline' }]);
  }
  // As for inputs: a number beyond float32 would silently become Infinity (and the attributions NaN).
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0)
    throw badRequest(
      `baseline element ${bad} does not fit TF.js float32 (±3.4028235e38)`,
      [{ path: '/baseline', message: `element ${bad} out of float32 range` }],
      'invalid_tensor_data',
    );
  return values;
}

/** Scores or attributions that overflowed: JSON has no NaN or Infinity to send them as. */
function checkFinite(values: ArrayLike<number>, what: string): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) {
      throw badRequest(
        `the ${what} is not finite for this input (the model overflows float32 on it)`,
        [{ path: '/inputs/0/data', message: `makes the ${what} non-finite` }],
        'invalid_tensor_data',
      );
    }
  }
}
