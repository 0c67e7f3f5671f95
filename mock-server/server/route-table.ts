/**
 * Every operation's route handler, by operationId. The light route modules are imported at start;
 * those of the registry (uploads: tar, node:zlib), training, evaluations, datasets, model selection,
 * explanations and exports on the first request to any of their operations (through tsx, every module loaded
 * at start costs start-up time).
 */
import type { Contract } from '../contract/contract';
import { accessRoutes } from '../routes/access';
import { healthRoutes } from '../routes/health';
import { inferenceRoutes } from '../routes/inference';
import { modelRoutes } from '../routes/models';
import { repositoryRoutes } from '../routes/repository';
import { statisticsRoutes } from '../routes/statistics';
import { testControlRoutes } from '../routes/test-controls';
import type { RouteTable } from './context';

const eager: RouteTable = {
  ...healthRoutes,
  ...modelRoutes,
  ...inferenceRoutes,
  ...repositoryRoutes,
  ...statisticsRoutes,
  ...accessRoutes,
  ...testControlRoutes,
};

async function loadOtherRoutes(): Promise<RouteTable> {
  const [registry, training, evaluations, explanations, exports] = await Promise.all([
    import('../routes/registry'),
    import('../routes/training'),
    import('../routes/evaluations'),
    import('../routes/explanations'),
    import('../routes/export'),
  ]);
  return {
    ...registry.registryRoutes,
    ...training.trainingRoutes,
    ...evaluations.evaluationRoutes,
    ...explanations.explanationRoutes,
    ...exports.exportRoutes,
  };
}

/** One handler per operation of openapi.yaml: checked now, and the lazily loaded ones again when they load. */
export function routeTable(contract: Contract): RouteTable {
  const operationIds = [...contract.operations.keys()];
  const table = { ...eager, ...lazyRoutes(operationIds.filter((id) => !eager[id])) };
  checkRoutes(operationIds, table);
  return table;
}

/** A route for each of `ids` that loads the other route modules on first use. */
function lazyRoutes(ids: string[]): RouteTable {
  let loaded: Promise<RouteTable> | undefined;
  const table = () =>
    (loaded ??= loadOtherRoutes().then((routes) => {
      checkRoutes(ids, routes);
      return routes;
    }));
  return Object.fromEntries(ids.map((id) => [id, async (context) => (await table())[id]!(context)]));
}

/** Throws unless `routes` has a handler for each of `operationIds` and for nothing else. */
function checkRoutes(operationIds: string[], routes: RouteTable): void {
  const missing = operationIds.filter((id) => !routes[id]);
  const unknown = Object.keys(routes).filter((id) => !operationIds.includes(id));
  if (missing.length || unknown.length) {
    throw new Error(`routes and openapi.yaml disagree: no handler for [${missing.join(', ')}], no operation for [${unknown.join(', ')}]`);
  }
}
