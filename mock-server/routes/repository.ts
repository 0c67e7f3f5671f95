/** The model repository extension: index, load, unload. */
import type { components } from 'modelport';
import type { RequestContext, RouteTable } from '../server/context';
import { json } from '../http/respond';
import type { ServedVersion } from '../serving/version-service';
import { modelFilter } from '../auth/model-restriction';

type IndexEntry = components['schemas']['RepositoryIndexEntry'];
type LoadRequest = components['schemas']['RepositoryLoadRequest'] | undefined;

export const repositoryRoutes: RouteTable = {
  repositoryIndex: ({ state, body, principal }) => {
    const readyOnly = (body as { ready?: boolean } | undefined)?.ready === true;
    const visible = modelFilter(principal);
    return json(
      state.models
        .all()
        .filter((v) => visible(v.name) && (!readyOnly || v.state === 'READY'))
        .map(indexEntry),
    );
  },
  repositoryLoad: async (context) =>
    json((await context.state.models.load(context.params.model_name!, requestedVersion(context))).map(indexEntry)),
  repositoryUnload: (context) => json(context.state.models.unload(context.params.model_name!, requestedVersion(context)).map(indexEntry)),
};

function requestedVersion({ body }: RequestContext): string | undefined {
  return (body as LoadRequest)?.parameters?.version;
}

export function indexEntry(served: ServedVersion): IndexEntry {
  return { name: served.name, version: served.version, state: served.state, ...(served.reason ? { reason: served.reason } : {}) };
}
