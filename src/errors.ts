/**
 * Typed errors. Every failure the SDK reports is a `ModelportError`; failures that reached the
 * server (or should have) are `APIError`s carrying the HTTP status, the stable `code`, the
 * `details` that point at bad fields, and the server's request id. Each subclass has the literal
 * status it stands for, so `error instanceof NotFoundError` narrows `error.status` to `404`.
 */
import type { components } from './generated/openapi';

export type ErrorBody = components['schemas']['Error'];
export type ErrorDetail = components['schemas']['ErrorDetail'];
/** Every `code` a modelport server documents (openapi.yaml `ErrorCode`), e.g. `model_not_found`. */
export type ErrorCode = components['schemas']['ErrorCode'];

/** What an `APIError` is made of; every field may be left out. */
export interface APIErrorInit {
  /** HTTP status; left out when no response arrived. Subclasses fix their own. */
  status?: number | undefined;
  code?: string | undefined;
  details?: ErrorDetail[] | undefined;
  requestId?: string | undefined;
  headers?: Headers | undefined;
  /** The parsed error body, or the raw text when it was not JSON. */
  body?: unknown;
  cause?: unknown;
}

/** The statuses `BadRequestError` stands for: the request itself is wrong. */
export type BadRequestStatus = 400 | 413 | 415 | 422;

export class ModelportError extends Error {
  override name = 'ModelportError';
}

export class APIError extends ModelportError {
  override name = 'APIError';
  /** HTTP status; undefined when no response was received (connection failure, timeout). */
  readonly status: number | undefined;
  /**
   * Stable machine-readable code from the error body, e.g. `model_not_found`: one of the
   * documented `ErrorCode`s (your editor lists them), or a code this SDK version does not know
   * yet (a newer server), or undefined when the body had none (KServe, Triton, a proxy, no
   * response at all).
   */
  readonly code: ErrorCode | (string & {}) | undefined;
  readonly details: ErrorDetail[];
  /** The `x-request-id` of the failed request, to find it in server logs. */
  readonly requestId: string | undefined;
  readonly headers: Headers | undefined;
  /** The parsed error body, or the raw text when it was not JSON. */
  readonly body: unknown;

  constructor(message: string, init: APIErrorInit = {}) {
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
    const text = `${status} ${parsed?.error ?? (typeof body === 'string' && body ? body : `HTTP ${status}`)}`;
    const code = typeof parsed?.code === 'string' ? parsed.code : undefined;
    const init: APIErrorInit = { code, details: parsed?.details, requestId, headers, body };
    switch (status) {
      case 400:
      case 413:
      case 415:
      case 422:
        return new BadRequestError(text, { ...init, status });
      case 401:
        return new AuthenticationError(text, init);
      case 403:
        return new PermissionDeniedError(text, init);
      case 404:
        return new NotFoundError(text, init);
      case 409:
        return new ConflictError(text, init);
      case 429:
        return new RateLimitError(text, init);
      case 503:
        return new ServiceUnavailableError(text, init);
      default:
        return status >= 500 ? new InternalServerError(text, { ...init, status }) : new APIError(text, { ...init, status });
    }
  }
}

type FixedStatusInit = Omit<APIErrorInit, 'status'>;

/** 400, 413, 415 or 422: the request is malformed, too large, of the wrong type, or a reused idempotency key. */
export class BadRequestError extends APIError {
  override name = 'BadRequestError';
  declare readonly status: BadRequestStatus;
  constructor(message: string, init: FixedStatusInit & { status?: BadRequestStatus | undefined } = {}) {
    super(message, { ...init, status: init.status ?? 400 });
  }
}
/** 401: no API key, or a bad or revoked one. */
export class AuthenticationError extends APIError {
  override name = 'AuthenticationError';
  declare readonly status: 401;
  constructor(message: string, init: FixedStatusInit = {}) {
    super(message, { ...init, status: 401 });
  }
}
/** 403: the key lacks the scope, or may not use this model. */
export class PermissionDeniedError extends APIError {
  override name = 'PermissionDeniedError';
  declare readonly status: 403;
  constructor(message: string, init: FixedStatusInit = {}) {
    super(message, { ...init, status: 403 });
  }
}
/** 404: no such model, version, alias or resource. */
export class NotFoundError extends APIError {
  override name = 'NotFoundError';
  declare readonly status: 404;
  constructor(message: string, init: FixedStatusInit = {}) {
    super(message, { ...init, status: 404 });
  }
}
/** 409: a name taken, a version an alias points at, or the same idempotency key still running. */
export class ConflictError extends APIError {
  override name = 'ConflictError';
  declare readonly status: 409;
  constructor(message: string, init: FixedStatusInit = {}) {
    super(message, { ...init, status: 409 });
  }
}
/** 429: the key's rate limit is spent. */
export class RateLimitError extends APIError {
  override name = 'RateLimitError';
  declare readonly status: 429;
  constructor(message: string, init: FixedStatusInit = {}) {
    super(message, { ...init, status: 429 });
  }
  /** Seconds the server asked to wait (`Retry-After`), when it said. */
  get retryAfter(): number | undefined {
    return parseRetryAfter(this.headers?.get('retry-after'));
  }
}
/** 503: not ready, loading, or shedding load. */
export class ServiceUnavailableError extends APIError {
  override name = 'ServiceUnavailableError';
  declare readonly status: 503;
  constructor(message: string, init: FixedStatusInit = {}) {
    super(message, { ...init, status: 503 });
  }
  /** Seconds the server asked to wait (`Retry-After`), when it said. */
  get retryAfter(): number | undefined {
    return parseRetryAfter(this.headers?.get('retry-after'));
  }
}
/** Any 5xx but 503 (500 unless told otherwise): a server or gateway failure. */
export class InternalServerError extends APIError {
  override name = 'InternalServerError';
  declare readonly status: number;
  constructor(message: string, init: APIErrorInit = {}) {
    super(message, { ...init, status: init.status ?? 500 });
  }
}
/**
 * The server could not be reached, the connection broke before a response (or its body) arrived,
 * or a custom `fetch` threw. In a web page calling another origin the message also says that the
 * server may not allow the page's origin (CORS, `--cors`): browsers report both alike.
 */
export class ConnectionError extends APIError {
  override name = 'ConnectionError';
  declare readonly status: undefined;
  declare readonly code: undefined;
  constructor(message: string, init: { cause?: unknown } = {}) {
    super(message, init);
  }
}
/**
 * No response within the `timeout` of each attempt (timed-out attempts are retried per
 * `maxRetries`), or a `wait` past its `maxWait`. The message names your call and the limit.
 */
export class TimeoutError extends APIError {
  override name = 'TimeoutError';
  declare readonly status: undefined;
  declare readonly code: undefined;
  constructor(message: string, init: { cause?: unknown } = {}) {
    super(message, init);
  }
}

/**
 * The SDK refused a call before sending anything: input data that cannot make the tensor the
 * call needs (wrong element count for the shape, values that fit no shape, a multi-input model
 * called without input names). `input` names the input when there is one.
 */
export class InvalidInputError extends ModelportError {
  override name = 'InvalidInputError';
  constructor(
    message: string,
    readonly input?: string | undefined,
    options: { cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
  }
}

/** A client option the SDK cannot work with, reported by `new Modelport(...)`: a `baseUrl` that is not an http(s) URL. */
export class ConfigurationError extends ModelportError {
  override name = 'ConfigurationError';
}

/**
 * A successful response (2xx) the SDK cannot read: a body that is not the JSON it should be, a
 * tensor datatype this SDK does not know (`"string"`), a binary body whose parts do not add up.
 * `status`, `requestId`, `headers` and `body` are those of the response.
 */
export class UnexpectedResponseError extends APIError {
  override name = 'UnexpectedResponseError';
}

/** A training job that did not succeed (failed or cancelled); `job` says why. */
export class TrainingJobError extends ModelportError {
  override name = 'TrainingJobError';
  constructor(
    message: string,
    readonly job: { id: string; status: string; error?: string | undefined },
  ) {
    super(message);
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
