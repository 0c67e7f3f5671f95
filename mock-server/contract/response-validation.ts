/**
 * Responses checked against openapi.yaml, so the spec and the server cannot drift: the status is
 * one the operation declares, the content type one the status declares, a JSON body (or the JSON
 * header of a binary inference body) matches the declared schema, every error is the one Error
 * body with `request_id` equal to the `x-request-id` header, and 429/503 carry Retry-After.
 *
 * Off by default. `MODELPORT_VALIDATE_RESPONSES=1` (read once by createModelServer) turns it on
 * for every response: violations are logged and collected (`takeResponseViolations()`); any other
 * value is also a file that each violation is appended to as a JSON line, for servers in child
 * processes. The test suite runs with it on and fails on any violation.
 */
import { appendFileSync } from 'node:fs';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import type { Contract, Operation } from './contract';
import { Reply, type RouteResult } from '../http/respond';

export interface ResponseViolation {
  operation: string | undefined;
  method: string;
  path: string;
  status: number;
  problems: string[];
}

export interface ResponseFacts {
  status: number;
  headers: Headers;
  /** The body bytes (undefined when not read, e.g. event streams). */
  body: Uint8Array | undefined;
}

export interface CheckOptions {
  /** Statuses accepted even when the operation does not declare them (the fuzzer's cross-cutting ones). */
  alsoAllowed?: readonly number[];
}

const ENV = 'MODELPORT_VALIDATE_RESPONSES';
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Whether the environment asks for response validation, and the file to log violations to. */
export function responseValidationFromEnv(env: NodeJS.ProcessEnv = process.env): { enabled: boolean; logFile?: string } {
  const value = env[ENV];
  if (!value || value === '0' || value === 'false') return { enabled: false };
  return value === '1' || value === 'true' ? { enabled: true } : { enabled: true, logFile: value };
}

const recorded: ResponseViolation[] = [];

/** The violations recorded in this process since the last call (and forgets them). */
export function takeResponseViolations(): ResponseViolation[] {
  return recorded.splice(0, recorded.length);
}

export class ResponseValidator {
  private readonly validators = new Map<string, ValidateFunction | null>();
  private readonly errorValidator: ValidateFunction;

  constructor(private readonly contract: Contract) {
    this.errorValidator = contract.ajv.compile({ $ref: 'openapi#/components/schemas/Error' });
  }

  /** What is wrong with a response to `operation` (undefined: no route matched), or []. */
  check(operation: Operation | undefined, response: ResponseFacts, options: CheckOptions = {}): string[] {
    const problems: string[] = [];
    const { status, headers } = response;
    const requestId = headers.get('x-request-id');
    if (!requestId) problems.push('no x-request-id header');
    const type = headers.get('content-type')?.split(';')[0]!.trim().toLowerCase();

    if (status >= 400) this.checkError(response, type, requestId, problems);
    if (status === 429 || status === 503) {
      const retryAfter = headers.get('retry-after');
      if (retryAfter === null || !/^\d+$/.test(retryAfter))
        problems.push(`${status} without a Retry-After of whole seconds (${retryAfter})`);
    }
    if (status === 401 && headers.get('www-authenticate') === null) problems.push('401 without WWW-Authenticate');
    if (!operation) {
      if (status !== 404 && status !== 405 && status !== 204)
        problems.push(`status ${status} for a request that matched no operation (expected 404 or 405)`);
      return problems;
    }

    const declared = this.contract.responseSpec(operation.operationId, status);
    if (!declared) {
      if (!options.alsoAllowed?.includes(status))
        problems.push(
          `status ${status} is not declared for ${operation.operationId} (declared: ${this.contract.declaredStatuses(operation.operationId).join(', ')})`,
        );
      return problems;
    }
    const content: Record<string, { schema?: unknown }> = declared.content ?? {};
    const declaredTypes = Object.keys(content);
    const empty = !response.body || response.body.byteLength === 0;
    if (!declaredTypes.length) {
      if (response.body && !empty) problems.push(`status ${status} declares no body but one of ${response.body.byteLength} bytes was sent`);
      return problems;
    }
    if (!type || !declaredTypes.includes(type)) {
      problems.push(`content type '${type}' is not declared for ${status} (declared: ${declaredTypes.join(', ')})`);
      return problems;
    }
    if (!response.body || status >= 400) return problems; // not read, or checked as an error above
    let json: unknown;
    let schemaType = type;
    if (type === 'application/json') {
      json = parse(response.body, problems);
    } else if (type === 'application/octet-stream' && headers.has('inference-header-content-length') && content['application/json']) {
      // A binary inference response: its JSON header is the JSON response without the data.
      const length = Number(headers.get('inference-header-content-length'));
      if (!Number.isInteger(length) || length < 0 || length > response.body.byteLength) {
        problems.push(`Inference-Header-Content-Length ${length} does not fit a body of ${response.body.byteLength} bytes`);
        return problems;
      }
      json = parse(response.body.subarray(0, length), problems);
      schemaType = 'application/json';
    } else {
      return problems;
    }
    if (json === undefined) return problems;
    const validate = this.validatorFor(operation.operationId, status, schemaType, content[schemaType]?.schema);
    if (validate && !validate(json)) problems.push(...describe(validate));
    return problems;
  }

  private checkError(response: ResponseFacts, type: string | undefined, requestId: string | null, problems: string[]): void {
    if (type !== 'application/json') {
      problems.push(`error status ${response.status} with content type '${type}', not application/json`);
      return;
    }
    const body = response.body ? parse(response.body, problems) : undefined;
    if (body === undefined) {
      if (response.body) return;
      problems.push(`error status ${response.status} without a body`);
      return;
    }
    if (!this.errorValidator(body)) problems.push(...describe(this.errorValidator).map((p) => `error body: ${p}`));
    const error = body as { status?: unknown; request_id?: unknown };
    if (error.status !== response.status)
      problems.push(`error body status ${String(error.status)} differs from the HTTP status ${response.status}`);
    if (requestId && error.request_id !== requestId)
      problems.push(`error body request_id '${String(error.request_id)}' differs from x-request-id '${requestId}'`);
  }

  private validatorFor(operationId: string, status: number, type: string, schema: unknown): ValidateFunction | null {
    const key = `${operationId} ${status} ${type}`;
    let validate = this.validators.get(key);
    if (validate === undefined) {
      validate = schema ? this.contract.compileSchema(schema) : null;
      this.validators.set(key, validate);
    }
    return validate;
  }
}

/**
 * What middleware/response-validation.ts runs on every answer when validation is on: reads a copy
 * of the body (JSON and binary inference bodies only; streams are left alone), checks it, logs and
 * records problems.
 */
export function responseChecker(contract: Contract, logFile?: string) {
  const validator = new ResponseValidator(contract);
  return async (request: { method: string; url: string }, operation: Operation | undefined, response: RouteResult): Promise<void> => {
    let problems: string[];
    try {
      problems = validator.check(operation, await factsOf(response));
    } catch (error) {
      problems = [`the response could not be checked: ${(error as Error).message}`];
    }
    if (!problems.length) return;
    const url = new URL(request.url);
    const violation: ResponseViolation = {
      operation: operation?.operationId,
      method: request.method,
      path: url.pathname,
      status: response.status,
      problems,
    };
    recorded.push(violation);
    console.error(
      `[modelport] response violates openapi.yaml: ${request.method} ${url.pathname} → ${response.status}: ${problems.join('; ')}`,
    );
    if (logFile) appendFileSync(logFile, `${JSON.stringify({ pid: process.pid, ppid: process.ppid, ...violation })}\n`);
  };
}

/** Status, headers and (JSON or binary) body of a response, without consuming it. */
async function factsOf(response: RouteResult): Promise<ResponseFacts> {
  if (response instanceof Reply) {
    const body = typeof response.body === 'string' ? new TextEncoder().encode(response.body) : (response.body ?? undefined);
    return { status: response.status, headers: new Headers(response.headers), body };
  }
  const type = response.headers.get('content-type')?.split(';')[0]!.trim().toLowerCase();
  const readable = response.body && (type === 'application/json' || type === 'application/octet-stream');
  const body = readable ? new Uint8Array(await response.clone().arrayBuffer()) : undefined;
  return { status: response.status, headers: response.headers, body };
}

function parse(bytes: Uint8Array, problems: string[]): unknown {
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch (error) {
    problems.push(`body is not valid JSON: ${(error as Error).message}`);
    return undefined;
  }
}

function describe(validate: ValidateFunction): string[] {
  return (validate.errors ?? [])
    .slice(0, 5)
    .map(
      (e) =>
        `${e.instancePath || '/'} ${e.message ?? 'is invalid'}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params.additionalProperty)})` : ''}`,
    );
}
