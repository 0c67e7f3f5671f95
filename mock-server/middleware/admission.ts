/**
 * Admission: inference beyond a model's in-flight limit (`maxInFlightPerModel`) is shed with 503
 * and Retry-After here, before its body is read and parsed: when the server is saturated, saying
 * no must cost next to nothing.
 */
import { HttpError } from '../http/errors';
import type { RouteResult } from '../http/respond';
import type { Exchange, Middleware, Next } from '../server/context';

/** Operations that run a model, counted against `maxInFlightPerModel`. */
const INFERENCE_OPERATIONS = new Set(['modelInfer', 'modelVersionInfer']);

export const admitInference: Middleware = (c, next) => {
  if (!INFERENCE_OPERATIONS.has(c.operation!.operationId)) return next(c);
  const model = c.params.model_name!;
  const { inFlight, options } = c.state;
  const current = inFlight.get(model) ?? 0;
  if (current >= options.maxInFlightPerModel) {
    throw new HttpError(
      503,
      'overloaded',
      `model '${model}' has ${options.maxInFlightPerModel} requests in flight; retry shortly`,
      undefined,
      { 'retry-after': '1' },
    );
  }
  inFlight.set(model, current + 1);
  return answerThenRelease(c, next, model);
};

async function answerThenRelease(c: Exchange, next: Next, model: string): Promise<RouteResult> {
  try {
    return await next(c);
  } finally {
    const { inFlight } = c.state;
    const left = inFlight.get(model)! - 1;
    if (left) inFlight.set(model, left);
    else inFlight.delete(model); // no entry per made-up model name
  }
}
