/**
 * Typed errors. Every failure the SDK reports is a `ModelportError`; failures that reached the
 * server (or should have) are `APIError`s carrying the HTTP status, the stable `code`, the
 * `details` that point at bad fields, and the server's request id.
 */
import type { components } from './generated/openapi';

export type ErrorBody = components['schemas']['Error'];
export type ErrorDetail = components['schemas']['ErrorDetail'];

export class ModelportError extends Error {
  override name = 'ModelportError';
}

export class APIError extends ModelportError {
  override name = 'APIError';
  /** HTTP status; undefined when no response was received (connection failure, timeout). */
  readonly status: number | undefined;
  /** Stable machine-readable code from the error body, e.g. `model_not_found`. */
  readonly code: string | undefined;
  readonly details: ErrorDetail[];
  /** The `x-request-id` of the failed request, to find it in server logs. */
  readonly requestId: string | undefined;
  readonly headers: Headers | undefined;
  /** The parsed error body, or the raw text when it was not JSON. */
  readonly body: unknown;

  constructor(
    message: string,
    init: { status?: number; code?: string; details?: ErrorDetail[]; requestId?: string; headers?: Headers; body?: unknown; cause?: unknown } = {},
  ) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.code = init.code;
    this.details = init.details ?? [];
    this.requestId = init.requestId;
    this.headers = init.headers;
    this.body = init.body;
  }

  /** Builds the subclass that matches an HTTP error response. */
  static fromResponse(status: number, body: unknown, headers: Headers): APIError {
    const parsed = isErrorBody(body) ? body : undefined;
    const requestId = parsed?.request_id ?? headers.get('x-request-id') ?? undefined;
    const message = parsed?.error ?? (typeof body === 'string' && body ? body : `HTTP ${status}`);
    const init = { status, code: parsed?.code, details: parsed?.details, requestId, headers, body };
    const ErrorClass = errorClassForStatus(status);
    return new ErrorClass(`${status} ${message}`, init);
  }
}

export class BadRequestError extends APIError { override name = 'BadRequestError'; }
export class AuthenticationError extends APIError { override name = 'AuthenticationError'; }
export class PermissionDeniedError extends APIError { override name = 'PermissionDeniedError'; }
export class NotFoundError extends APIError { override name = 'NotFoundError'; }
export class ConflictError extends APIError { override name = 'ConflictError'; }
export class RateLimitError extends APIError {
  override name = 'RateLimitError';
  /** Seconds the server asked to wait (`Retry-After`), when it said. */
  get retryAfter(): number | undefined {
    return parseRetryAfter(this.headers?.get('retry-after'));
  }
}
export class ServiceUnavailableError extends APIError {
  override name = 'ServiceUnavailableError';
  get retryAfter(): number | undefined {
    return parseRetryAfter(this.headers?.get('retry-after'));
  }
}
export class InternalServerError extends APIError { override name = 'InternalServerError'; }
/** The server could not be reached, or the connection broke before a response arrived. */
export class ConnectionError extends APIError { override name = 'ConnectionError'; }
/** No response within the `timeout` of the call (after every retry). */
export class TimeoutError extends APIError { override name = 'TimeoutError'; }

/** A training job that did not succeed (failed, cancelled or interrupted); `job` says why. */
export class TrainingJobError extends ModelportError {
  override name = 'TrainingJobError';
  constructor(message: string, readonly job: { id: string; status: string; error?: string }) {
    super(message);
  }
}

function errorClassForStatus(status: number): typeof APIError {
  switch (status) {
    case 400: case 413: case 415: case 422: return BadRequestError;
    case 401: return AuthenticationError;
    case 403: return PermissionDeniedError;
    case 404: return NotFoundError;
    case 409: return ConflictError;
    case 429: return RateLimitError;
    case 503: return ServiceUnavailableError;
    default: return status >= 500 ? InternalServerError : APIError;
  }
}

function isErrorBody(body: unknown): body is ErrorBody {
  return typeof body === 'object' && body !== null && typeof (body as { error?: unknown }).error === 'string';
}

function parseRetryAfter(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, (date - Date.now()) / 1000);
}
