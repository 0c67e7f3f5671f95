/** Test controls: reset to the bundled state, fault injection, the request journal. */
import type { RouteTable } from '../server/context';
import type { FaultCreate } from '../test-controls/controls';
import { json } from '../http/respond';

const noContent = () => new Response(null, { status: 204 });

export const testControlRoutes: RouteTable = {
  resetMock: async ({ state }) => {
    await state.testControls.reset();
    return noContent();
  },
  createFault: ({ state, body }) => json(state.testControls.inject(body as FaultCreate), 201),
  listFaults: ({ state }) => json({ data: state.testControls.faults() }),
  clearFaults: ({ state }) => {
    state.testControls.clearFaults();
    return noContent();
  },
  listJournal: ({ state, query }) => json({ data: state.journal.list(query) }),
  clearJournal: ({ state }) => {
    state.testControls.clearRequests();
    return noContent();
  },
  getVitals: ({ state }) => json(state.vitals.read()),
  resetVitals: ({ state }) => {
    state.vitals.reset();
    return noContent();
  },
};
