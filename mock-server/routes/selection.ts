/** POST /v1/models:select: the model version that best serves a task, from figures measured now. */
import type { RouteTable } from '../http/context';
import { labOf } from '../evaluation/lab';
import { selectModel, type SelectionRequest } from '../evaluation/selection';
import { idempotent } from '../middleware/idempotency';
import { json } from '../http/respond';

export const selectionRoutes: RouteTable = {
  // Idempotent so that a retried request gets the first answer instead of measuring again.
  selectModel: idempotent(async ({ state, body }) => json(await selectModel(await labOf(state), state.models, body as SelectionRequest))),
};
