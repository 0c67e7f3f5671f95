/** The one error body of every route (openapi.yaml `Error`), raised as an exception by handlers. */
import type { components } from 'modelport';

export type ErrorBody = components['schemas']['Error'];
export type ErrorDetail = components['schemas']['ErrorDetail'];
/** The documented codes (openapi.yaml `ErrorCode`): a code it does not list does not compile. */
export type ErrorCode = components['schemas']['ErrorCode'];

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode,
    message: string,
    readonly details?: ErrorDetail[],
    readonly headers?: Record<string, string>,
  ) {
    super(message);
  }
}

export const badRequest = (message: string, details?: ErrorDetail[], code: ErrorCode = 'invalid_request') =>
  new HttpError(400, code, message, details);
export const notFound = (message: string, code: ErrorCode) => new HttpError(404, code, message);
export const conflict = (message: string, code: ErrorCode) => new HttpError(409, code, message);
export const unavailable = (message: string, retryAfterSeconds: number, code: ErrorCode) =>
  new HttpError(503, code, message, undefined, { 'retry-after': String(retryAfterSeconds) });
