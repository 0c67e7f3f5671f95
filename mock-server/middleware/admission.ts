/**
 * Admission: a model runs at most `maxInFlightPerModel` inference requests at once; beyond, 503
 * and Retry-After. A request takes its slot only once its body is in (`admitInference`, after
 * validation): a client that sends headers and then stalls holds a socket until the body
 * timeouts answer it 408, never one of the model's slots. And a model already at its limit is
 * refused before its body is read (`shedInference`): when the server is saturated, saying no must
 * cost next to nothing.
 */
import { HttpError } from '../http/errors';
import type { RouteResult } from '../http/respond';
import type { Exchange, Middleware, Next } from '../server/context';

/** Operations that run a model, counted against `maxInFlightPerModel`. */
const INFERENCE_OPERATIONS = new Set(['modelInfer', 'modelVersionInfer']);

/** Before the body is read: 503 when the model's slots are all taken by requests that are running. */
export const shedInference: Middleware = (c, next) => {
  if (!INFERENCE_OPERATIONS.has(c.operation!.operationId)) return next(c);
  const model = c.params.model_name!;
  if ((c.state.inFlight.get(model) ?? 0) >= c.state.options.maxInFlightPerModel)
    throw overloaded(model, c.state.options.maxInFlightPerModel);
  return next(c);
};

/** Once the body is in and valid: the request takes one of the model's slots until it is answered. */
export const admitInference: Middleware = (c, next) => {
  if (!INFERENCE_OPERATIONS.has(c.operation!.operationId)) return next(c);
  const model = c.params.model_name!;
  const { inFlight, options } = c.state;
  const current = inFlight.get(model) ?? 0;
  if (current >= options.maxInFlightPerModel) throw overloaded(model, options.maxInFlightPerModel);
  inFlight.set(model, current + 1);
  return answerThenRelease(c, next, model);
};

function overloaded(model: string, limit: number): HttpError {
  return new HttpError(503, 'overloaded', `model '${model}' has ${limit} requests in flight; retry shortly`, undefined, {
    'retry-after': '1',
  });
}

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
