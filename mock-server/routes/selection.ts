/** POST /v1/models:select: the model version that best serves a task, from figures measured now. */
import { json } from '../http/respond';
import { selectModel, type SelectionRequest } from '../evaluation/selection';
import type { RouteTable } from '../server/context';

export const selectionRoutes: RouteTable = {
  // Idempotent (openapi.yaml) so that a retried request gets the first answer instead of measuring again.
  selectModel: async ({ state, body }) => json(await selectModel(await state.lab.open(), state.models, body as SelectionRequest)),
};
