/** Per-model statistics (Triton's statistics extension) and the same as Prometheus text. */
import type { RequestContext, RouteTable } from '../server/context';
import { json, type Reply } from '../http/respond';
import type { ServedVersion } from '../serving/version-service';
import { modelFilter } from '../auth/model-restriction';

export const statisticsRoutes: RouteTable = {
  modelsStatistics: (context) => statistics(visibleVersions(context)),
  modelStatistics: ({ state, params }) => statistics(state.models.versions(params.model_name!)),
  modelVersionStatistics: ({ state, params }) => statistics([state.models.resolve(params.model_name!, params.model_version)]),
  metrics: (context) => new Response(prometheus(context), { headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' } }),
};

function statistics(versions: ServedVersion[]): Reply {
  return json({ model_stats: versions.map((v) => v.stats.toJSON(v.name, v.version)) });
}

/** Every version of the models the caller may see. */
function visibleVersions({ state, principal }: RequestContext): ServedVersion[] {
  const visible = modelFilter(principal);
  return state.models.all().filter((v) => visible(v.name));
}

function prometheus(context: RequestContext): string {
  const lines: string[] = [];
  const metric = (name: string, type: string, help: string, rows: [ServedVersion, string, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [v, extra, value] of rows) lines.push(`${name}{model="${v.name}",version="${v.version}"${extra}} ${value}`);
  };
  const versions = visibleVersions(context);
  metric(
    'modelport_inference_requests_total',
    'counter',
    'Inference requests by outcome.',
    versions.flatMap((v) => [
      [v, ',outcome="success"', v.stats.success.count] as [ServedVersion, string, number],
      [v, ',outcome="failure"', v.stats.fail.count] as [ServedVersion, string, number],
    ]),
  );
  metric(
    'modelport_inference_samples_total',
    'counter',
    'Samples inferred (a batch of n counts n).',
    versions.map((v) => [v, '', v.stats.inferenceCount]),
  );
  metric(
    'modelport_model_executions_total',
    'counter',
    'Model executions (batches).',
    versions.map((v) => [v, '', v.stats.executionCount]),
  );
  metric(
    'modelport_inference_request_seconds_total',
    'counter',
    'Time spent on successful requests.',
    versions.map((v) => [v, '', v.stats.success.ns / 1e9]),
  );
  metric(
    'modelport_queue_seconds_total',
    'counter',
    'Time requests waited for a batch.',
    versions.map((v) => [v, '', v.stats.queue.ns / 1e9]),
  );
  metric(
    'modelport_compute_seconds_total',
    'counter',
    'Time spent running the model.',
    versions.map((v) => [v, '', v.stats.compute.ns / 1e9]),
  );
  metric(
    'modelport_model_ready',
    'gauge',
    '1 when the version is loaded and serving.',
    versions.map((v) => [v, '', v.state === 'READY' ? 1 : 0]),
  );
  return `${lines.join('\n')}\n`;
}
