/** Injected faults (test controls): latency and/or canned responses for matching requests. */
import { randomUUID } from 'node:crypto';
import type { components } from 'modelport';
import { badRequest } from '../http/errors';

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
    let pattern: RegExp | undefined;
    if (request.path !== undefined) {
      try {
        pattern = new RegExp(request.path);
      } catch (error) {
        throw badRequest(`path is not a valid regular expression: ${(error as Error).message}`, [
          { path: '/path', message: 'invalid regular expression' },
        ]);
      }
    }
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
      if (fault.pattern && !fault.pattern.test(facts.path)) continue;
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
