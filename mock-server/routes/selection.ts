/** POST /v1/models:select: the model version that best serves a task, from figures measured now. */
import { json } from '../http/respond';
import { selectModel, type SelectionRequest } from '../evaluation/selection';
import type { RouteTable } from '../server/context';
import { modelFilter } from '../auth/model-restriction';

export const selectionRoutes: RouteTable = {
  // Idempotent (openapi.yaml) so that a retried request gets the first answer instead of measuring again.
  // Candidates are only the models the caller may see (a key's model restriction).
  selectModel: async ({ state, body, principal }) =>
    json(await selectModel(await state.lab.open(), state.models, body as SelectionRequest, modelFilter(principal))),
};
