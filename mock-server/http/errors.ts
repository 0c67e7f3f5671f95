/** The one error body of every route (openapi.yaml `Error`), raised as an exception by handlers. */
import type { components } from 'modelport';

export type ErrorBody = components['schemas']['Error'];
export type ErrorDetail = components['schemas']['ErrorDetail'];

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: ErrorDetail[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

export const badRequest = (message: string, details?: ErrorDetail[], code = 'invalid_request') =>
  new HttpError(400, code, message, details);
export const notFound = (message: string, code = 'not_found') => new HttpError(404, code, message);
export const conflict = (message: string, code = 'conflict') => new HttpError(409, code, message);
export const unavailable = (message: string, retryAfterSeconds: number, code = 'unavailable') =>
  new HttpError(503, code, message, undefined, { 'retry-after': String(retryAfterSeconds) });
