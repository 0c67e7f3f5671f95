/**
 * Injected faults (test controls): latency and/or canned responses for matching requests. A fault
 * is checked as it is added, also when it comes in process (`controls.inject`), not through
 * openapi.yaml: its answer must be one HTTP can carry, and its path pattern must not backtrack
 * catastrophically (fault-pattern.ts).
 */
import { randomUUID } from 'node:crypto';
import type { components } from 'modelport';
import { badRequest } from '../http/errors';
import { compilePathPattern, MAX_MATCHED_PATH } from './fault-pattern';

export type Fault = components['schemas']['Fault'];
type FaultCreate = components['schemas']['FaultCreate'];

interface ActiveFault extends Fault {
  pattern?: RegExp;
}

export interface RequestFacts {
  operationId: string;
  method: string;
  path: string;
  model?: string;
}

export class FaultInjector {
  private faults: ActiveFault[] = [];

  add(request: FaultCreate): Fault {
    checkAnswer(request);
    const pattern = request.path === undefined ? undefined : compilePathPattern(request.path);
    const fault: ActiveFault = {
      ...request,
      id: randomUUID().slice(0, 8),
      probability: request.probability ?? 1,
      fired: 0,
      ...(request.count !== undefined ? { remaining: request.count } : {}),
      pattern,
    };
    this.faults.push(fault);
    return view(fault);
  }

  list(): Fault[] {
    return this.faults.map(view);
  }

  clear(): void {
    this.faults = [];
  }

  /** The fault that takes this request, if any (and counts it as fired). */
  take(facts: RequestFacts): Fault | undefined {
    for (const fault of this.faults) {
      if (fault.operation !== undefined && fault.operation !== facts.operationId) continue;
      if (fault.pattern && (facts.path.length > MAX_MATCHED_PATH || !fault.pattern.test(facts.path))) continue;
      if (fault.method !== undefined && fault.method.toUpperCase() !== facts.method) continue;
      if (fault.model !== undefined && fault.model !== facts.model) continue;
      if (fault.remaining === 0) continue;
      if (Math.random() >= (fault.probability ?? 1)) continue;
      fault.fired += 1;
      if (fault.remaining !== undefined) fault.remaining -= 1;
      this.faults = this.faults.filter((f) => f.remaining !== 0);
      return view(fault);
    }
    return undefined;
  }
}

function view({ pattern: _pattern, ...fault }: ActiveFault): Fault {
  return fault;
}

/** An HTTP header name (RFC 9110 token). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/;
/** What no header value may hold: it would end the header (response splitting) or the header block. */
const FORBIDDEN_IN_VALUE = /[\r\n\0]/;
const MAX_HEADERS = 32;
const MAX_HEADER_VALUE = 4096;

/** 400 naming the field for an answer HTTP cannot carry: an interim status, a body on 204/304, a header that is no header. */
function checkAnswer(request: FaultCreate): void {
  const { status, headers } = request;
  if (status !== undefined && (!Number.isInteger(status) || status < 200 || status > 599)) {
    const why = status >= 100 && status < 200 ? 'a 1xx status is an interim answer, never a final one' : 'not an HTTP status';
    throw badRequest(`fault status ${status}: ${why}; use 200-599`, [{ path: '/status', message: 'must be 200 to 599' }]);
  }
  if ((status === 204 || status === 304) && request.body !== undefined) {
    throw badRequest(`a ${status} answer carries no body; drop body or use another status`, [
      { path: '/body', message: `not allowed with status ${status}` },
    ]);
  }
  const entries = Object.entries(headers ?? {});
  if (entries.length > MAX_HEADERS) {
    throw badRequest(`the fault has ${entries.length} headers; the limit is ${MAX_HEADERS}`, [
      { path: '/headers', message: `at most ${MAX_HEADERS}` },
    ]);
  }
  for (const [name, value] of entries) {
    if (!TOKEN.test(name)) {
      throw badRequest(`fault header name ${JSON.stringify(name)} is not an HTTP token (letters, digits, !#$%&'*+.^_\`|~-, 64 at most)`, [
        { path: `/headers/${pointer(name)}`, message: 'is not an HTTP header name' },
      ]);
    }
    if (typeof value !== 'string' || FORBIDDEN_IN_VALUE.test(value) || value.length > MAX_HEADER_VALUE) {
      throw badRequest(`fault header '${name}' has a value with CR, LF or NUL, or longer than ${MAX_HEADER_VALUE} characters`, [
        { path: `/headers/${pointer(name)}`, message: 'must be a header value without CR, LF or NUL' },
      ]);
    }
  }
}

/** A JSON pointer segment. */
function pointer(name: string): string {
  return name.replace(/~/g, '~0').replace(/\//g, '~1');
}
