/**
 * The test controls as plain functions, shared by the /_mock routes and the SDK-free helpers
 * that startMockServer() and mswHandlers() return.
 */
import type { components, operations } from 'modelport';
import { badRequest } from '../http/errors';
import type { Fault, FaultInjector } from './faults';
import type { Journal, JournalEntry } from './journal';

export type FaultCreate = components['schemas']['FaultCreate'];

export interface TestControls {
  /** Back to the bundled models; keys, datasets, evaluations, training jobs, faults, journal, limits and usage cleared. */
  reset(): Promise<void>;
  /** e.g. `inject({ operation: 'modelInfer', model: 'digits', status: 503, headers: { 'Retry-After': '1' }, count: 2 })`. */
  inject(fault: FaultCreate): Fault;
  faults(): Fault[];
  clearFaults(): void;
  /** The journal, filtered by operation, method, path (substring), model or status (GET /_mock/requests's query). */
  requests(filter?: operations['listJournal']['parameters']['query']): JournalEntry[];
  clearRequests(): void;
}

/** `reset` puts the whole server back (server/state.ts knows its services); the rest is faults and journal. */
export function testControls(faults: FaultInjector, journal: Journal, reset: () => Promise<void>): TestControls {
  return {
    reset,
    inject(fault) {
      if (fault.latency_ms === undefined && fault.status === undefined) {
        throw badRequest('a fault needs latency_ms, status or both', [{ path: '/status', message: 'give latency_ms or status' }]);
      }
      return faults.add(fault);
    },
    faults: () => faults.list(),
    clearFaults: () => faults.clear(),
    requests: (filter = {}) => journal.list(filter),
    clearRequests: () => journal.clear(),
  };
}
