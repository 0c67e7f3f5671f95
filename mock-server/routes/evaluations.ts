/**
 * /v1/evaluations (jobs that measure model versions on a dataset), each version's evaluations,
 * and, with them, the rest of the evaluation room: datasets and model selection.
 */
import type { RouteTable } from '../server/context';
import type { EvaluationCreate } from '../evaluation/jobs';
import { paginate } from '../http/pagination';
import { json } from '../http/respond';
import { modelFilter } from '../auth/model-restriction';
import { datasetRoutes } from './datasets';
import { selectionRoutes } from './selection';

const evaluationJobRoutes: RouteTable = {
  createEvaluation: async ({ state, body, principal }) => {
    const evaluation = await (await state.lab.open()).jobs.create(body as EvaluationCreate, principal?.keyId);
    return json(evaluation, 202, { location: `/v1/evaluations/${evaluation.id}` });
  },

  listEvaluations: async ({ state, query, principal }) => {
    const visible = modelFilter(principal);
    const evaluations = (await state.lab.open()).jobs
      .list()
      .filter(
        (e) =>
          e.models.every((m) => visible(m.model)) &&
          (query.status === undefined || e.status === query.status) &&
          (query.dataset === undefined || e.dataset === query.dataset) &&
          (query.model === undefined || e.models.some((m) => m.model === query.model)),
      );
    return json(paginate(evaluations, (e) => `${e.created_at} ${e.id}`, query, 'descending'));
  },

  getEvaluation: async ({ state, params }) => json((await state.lab.open()).jobs.get(params.evaluation_id!)),

  listVersionEvaluations: async ({ state, params, query }) => {
    const served = state.models.exactVersion(params.model_name!, params.version!); // 404s first
    const summaries = (await state.lab.open()).jobs.summaries(served);
    return json(paginate(summaries, (s) => `${s.finished_at} ${s.evaluation_id}`, query, 'descending'));
  },
};

/** Every route of the evaluation room, for the server's route table. */
export const evaluationRoutes: RouteTable = { ...datasetRoutes, ...evaluationJobRoutes, ...selectionRoutes };
