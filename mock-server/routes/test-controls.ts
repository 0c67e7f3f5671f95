/** Test controls: reset to the bundled state, fault injection, the request journal. */
import type { RouteTable } from '../http/context';
import { testControls, type FaultCreate } from '../test-controls/controls';
import { json } from '../http/respond';

const noContent = () => new Response(null, { status: 204 });

export const mockRoutes: RouteTable = {
  resetMock: async ({ state }) => {
    await testControls(state).reset();
    return noContent();
  },
  createFault: ({ state, body }) => json(testControls(state).inject(body as FaultCreate), 201),
  listFaults: ({ state }) => json({ data: testControls(state).faults() }),
  clearFaults: ({ state }) => {
    testControls(state).clearFaults();
    return noContent();
  },
  listJournal: ({ state, query }) => json({ data: state.journal.list(query) }),
  clearJournal: ({ state }) => {
    testControls(state).clearRequests();
    return noContent();
  },
};
