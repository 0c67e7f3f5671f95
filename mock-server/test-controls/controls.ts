/**
 * The test controls as plain functions, shared by the /_mock routes and the SDK-free helpers
 * that startMockServer() and mswHandlers() return.
 */
import type { components } from 'modelport';
import type { ServerState } from '../http/context';
import { badRequest } from '../http/errors';
import { resetLab } from '../evaluation/lab';
import type { Fault } from './faults';
import type { JournalEntry } from './journal';

export type FaultCreate = components['schemas']['FaultCreate'];

export interface TestControls {
  /** Back to the bundled models; keys, datasets, evaluations, training jobs, faults, journal, limits and usage cleared. */
  reset(): Promise<void>;
  /** e.g. `inject({ operation: 'modelInfer', model: 'digits', status: 503, headers: { 'Retry-After': '1' }, count: 2 })`. */
  inject(fault: FaultCreate): Fault;
  faults(): Fault[];
  clearFaults(): void;
  /** The journal, filtered by operation, method, path (substring), model or status. */
  requests(filter?: { operation?: string; method?: string; path?: string; model?: string; status?: number; limit?: number }): JournalEntry[];
  clearRequests(): void;
}

export function testControls(state: ServerState): TestControls {
  return {
    async reset() {
      await state.training.reset(); // first: a running job would otherwise register its result after the models reset
      await state.models.reset();
      await state.keys.reset();
      await resetLab(state); // uploaded datasets and evaluations
      state.faults.clear();
      state.journal.clear();
      state.rateLimiter.reset();
      state.usage.reset();
      state.idempotency.clear();
    },
    inject(fault) {
      if (fault.latency_ms === undefined && fault.status === undefined) {
        throw badRequest('a fault needs latency_ms, status or both', [{ path: '/status', message: 'give latency_ms or status' }]);
      }
      return state.faults.add(fault);
    },
    faults: () => state.faults.list(),
    clearFaults: () => state.faults.clear(),
    requests: (filter = {}) => state.journal.list(Object.fromEntries(Object.entries(filter).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]))),
    clearRequests: () => state.journal.clear(),
  };
}
