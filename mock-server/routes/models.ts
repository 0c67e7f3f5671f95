/** OIP model metadata and readiness. */
import type { components } from 'modelport';
import type { RequestContext, RouteTable } from '../server/context';
import { json, type Reply } from '../http/respond';

type ModelMetadata = components['schemas']['ModelMetadata'];

export const modelRoutes: RouteTable = {
  modelMetadata: (context) => metadata(context, undefined),
  modelVersionMetadata: (context) => metadata(context, context.params.model_version),
  modelReady: (context) => ready(context, undefined),
  modelVersionReady: (context) => ready(context, context.params.model_version),
};

function metadata({ state, params }: RequestContext, version: string | undefined): Reply {
  const name = params.model_name!;
  const served = state.models.resolve(name, version);
  const { config } = served;
  const body: ModelMetadata = {
    name,
    versions: state.models.versions(name).map((v) => v.version),
    platform: config.platform,
    inputs: config.inputs,
    outputs: config.outputs,
    version: served.version,
    task: config.task,
    ...(config.labels ? { labels: config.labels } : {}),
  };
  return json(body);
}

function ready({ state, params }: RequestContext, version: string | undefined): Reply {
  const name = params.model_name!;
  // A registered model without versions yet is simply not ready (a probe's answer, not an error).
  if (version === undefined && state.models.has(name) && state.models.versions(name).length === 0) return json({ name, ready: false });
  const served = state.models.resolve(name, version);
  return json({ name: served.name, ready: served.state === 'READY' });
}
