/**
 * Anything thrown further down the list becomes the one error body of openapi.yaml (`Error`, with
 * the request's id); an exception that is not an `HttpError` is logged and answered 500. Then
 * every answer gets the headers middleware set for it (x-request-id, RateLimit-*).
 */
import { HttpError } from '../http/errors';
import { errorResponse, type RouteResult } from '../http/respond';
import type { Middleware } from '../server/context';

export const errors: Middleware = async (c, next) => {
  let answer: RouteResult;
  try {
    answer = await next(c);
  } catch (error) {
    answer = errorResponse(toHttpError(error, c.requestId), c.requestId);
  }
  return c.withAnswerHeaders(answer);
};

function toHttpError(error: unknown, requestId: string): HttpError {
  if (error instanceof HttpError) return error;
  console.error(`[modelport] internal error in request ${requestId}:`, error);
  return new HttpError(500, 'internal_error', `internal error (request ${requestId})`);
}
