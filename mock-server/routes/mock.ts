/** Test controls: reset to the bundled state, fault injection, the request journal. */
import type { components } from '../../src/generated/openapi';
import type { RouteTable } from '../context';
import { badRequest } from '../errors';
import { json } from '../respond';

export const mockRoutes: RouteTable = {
  resetMock: async ({ state }) => {
    await state.models.reset();
    await state.keys.reset();
    state.faults.clear();
    state.journal.clear();
    state.rateLimiter.reset();
    state.usage.reset();
    state.idempotency.clear();
    return new Response(null, { status: 204 });
  },

  createFault: ({ state, body }) => {
    const request = body as components['schemas']['FaultCreate'];
    if (request.latency_ms === undefined && request.status === undefined) {
      throw badRequest('a fault needs latency_ms, status or both', [{ path: '/status', message: 'give latency_ms or status' }]);
    }
    return json(state.faults.add(request), 201);
  },

  listFaults: ({ state }) => json({ data: state.faults.list() }),

  clearFaults: ({ state }) => {
    state.faults.clear();
    return new Response(null, { status: 204 });
  },

  listJournal: ({ state, query }) => json({ data: state.journal.list(query) }),

  clearJournal: ({ state }) => {
    state.journal.clear();
    return new Response(null, { status: 204 });
  },
};
