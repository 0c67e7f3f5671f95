/**
 * One well-formed request per operation in openapi.yaml, for tests that sweep every operation
 * (the access table). A request an authorised caller sends gets a status the spec declares.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { BUNDLED } from './data-dir';

export interface OperationRequest {
  method: string;
  path: string;
  body?: BodyInit;
  headers?: Record<string, string>;
}

const json = (value: unknown) => ({ body: JSON.stringify(value), headers: { 'content-type': 'application/json' } });
const irisInput = { inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }] };
let counter = 0;
const unique = (prefix: string) => `${prefix}-${process.pid}-${++counter}`;

async function irisUpload(): Promise<OperationRequest> {
  const form = new FormData();
  for (const file of ['model.json', 'weights.bin']) {
    form.append('files', new Blob([await readFile(path.join(BUNDLED, 'iris', '1', file))]), file);
  }
  return { method: 'POST', path: '/v1/models/iris/versions', body: form };
}

export const OPERATION_REQUESTS: Record<string, () => OperationRequest | Promise<OperationRequest>> = {
  serverLive: () => ({ method: 'GET', path: '/v2/health/live' }),
  serverReady: () => ({ method: 'GET', path: '/v2/health/ready' }),
  serverMetadata: () => ({ method: 'GET', path: '/v2' }),
  modelMetadata: () => ({ method: 'GET', path: '/v2/models/iris' }),
  modelVersionMetadata: () => ({ method: 'GET', path: '/v2/models/iris/versions/1' }),
  modelReady: () => ({ method: 'GET', path: '/v2/models/iris/ready' }),
  modelVersionReady: () => ({ method: 'GET', path: '/v2/models/iris/versions/1/ready' }),
  modelInfer: () => ({ method: 'POST', path: '/v2/models/iris/infer', ...json(irisInput) }),
  modelVersionInfer: () => ({ method: 'POST', path: '/v2/models/iris/versions/1/infer', ...json(irisInput) }),
  repositoryIndex: () => ({ method: 'POST', path: '/v2/repository/index' }),
  repositoryLoad: () => ({ method: 'POST', path: '/v2/repository/models/iris/load' }),
  repositoryUnload: () => ({ method: 'POST', path: '/v2/repository/models/ghost/unload' }),
  modelsStatistics: () => ({ method: 'GET', path: '/v2/models/stats' }),
  modelStatistics: () => ({ method: 'GET', path: '/v2/models/iris/stats' }),
  modelVersionStatistics: () => ({ method: 'GET', path: '/v2/models/iris/versions/1/stats' }),
  metrics: () => ({ method: 'GET', path: '/metrics' }),
  listModels: () => ({ method: 'GET', path: '/v1/models' }),
  createModel: () => ({ method: 'POST', path: '/v1/models', ...json({ name: unique('m'), task: 'test' }) }),
  getModel: () => ({ method: 'GET', path: '/v1/models/iris' }),
  updateModel: () => ({ method: 'PATCH', path: '/v1/models/iris', ...json({ tags: ['flowers'] }) }),
  deleteModel: () => ({ method: 'DELETE', path: '/v1/models/ghost' }),
  listVersions: () => ({ method: 'GET', path: '/v1/models/iris/versions' }),
  uploadVersion: irisUpload,
  getVersion: () => ({ method: 'GET', path: '/v1/models/iris/versions/1' }),
  deleteVersion: () => ({ method: 'DELETE', path: '/v1/models/iris/versions/99' }),
  loadVersion: () => ({ method: 'POST', path: '/v1/models/iris/versions/1/load' }),
  unloadVersion: () => ({ method: 'POST', path: '/v1/models/ghost/versions/1/unload' }),
  exportModel: () => ({ method: 'GET', path: '/v1/models/iris/versions/1/export?format=triton' }),
  listAliases: () => ({ method: 'GET', path: '/v1/models/iris/aliases' }),
  setAlias: () => ({ method: 'PUT', path: '/v1/models/iris/aliases/staging', ...json({ version: 1 }) }),
  deleteAlias: () => ({ method: 'DELETE', path: '/v1/models/iris/aliases/nightly' }),
  listApiKeys: () => ({ method: 'GET', path: '/v1/api-keys' }),
  createApiKey: () => ({ method: 'POST', path: '/v1/api-keys', ...json({ name: unique('k'), scopes: ['inference'] }) }),
  revokeApiKey: () => ({ method: 'DELETE', path: '/v1/api-keys/000000000000' }),
  getUsage: () => ({ method: 'GET', path: '/v1/usage' }),
  resetMock: () => ({ method: 'POST', path: '/_mock/reset' }),
  listFaults: () => ({ method: 'GET', path: '/_mock/faults' }),
  createFault: () => ({ method: 'POST', path: '/_mock/faults', ...json({ path: '^/never$', status: 500 }) }),
  clearFaults: () => ({ method: 'DELETE', path: '/_mock/faults' }),
  listJournal: () => ({ method: 'GET', path: '/_mock/requests' }),
  clearJournal: () => ({ method: 'DELETE', path: '/_mock/requests' }),
  getVitals: () => ({ method: 'GET', path: '/_mock/vitals' }),
  resetVitals: () => ({ method: 'DELETE', path: '/_mock/vitals' }),
  listTrainingJobs: () => ({ method: 'GET', path: '/v1/training-jobs' }),
  createTrainingJob: () => ({
    method: 'POST',
    path: '/v1/training-jobs',
    ...json({
      model: unique('t'),
      dataset: 'iris-train',
      epochs: 1,
      optimizer: { name: 'sgd' },
      architecture: { input: { name: 'features', shape: [4] }, layers: [{ type: 'dense', units: 3, activation: 'softmax' }] },
    }),
  }),
  getTrainingJob: () => ({ method: 'GET', path: '/v1/training-jobs/tj_missing' }),
  cancelTrainingJob: () => ({ method: 'POST', path: '/v1/training-jobs/tj_missing/cancel' }),
  trainingJobEvents: () => ({ method: 'GET', path: '/v1/training-jobs/tj_missing/events' }),
  explainModel: () => ({ method: 'POST', path: '/v1/models/iris/explain', ...json({ ...irisInput, steps: 8 }) }),
  listDatasets: () => ({ method: 'GET', path: '/v1/datasets' }),
  createDataset: () => ({
    method: 'POST',
    path: `/v1/datasets?name=${unique('d')}`,
    body: '5.1,3.5,1.4,0.2,setosa\n',
    headers: { 'content-type': 'text/csv' },
  }),
  getDataset: () => ({ method: 'GET', path: '/v1/datasets/iris-holdout' }),
  deleteDataset: () => ({ method: 'DELETE', path: '/v1/datasets/ghost' }),
  listEvaluations: () => ({ method: 'GET', path: '/v1/evaluations' }),
  createEvaluation: () => ({
    method: 'POST',
    path: '/v1/evaluations',
    ...json({ dataset: 'iris-holdout', models: [{ model: 'iris', version: 1 }], latency_samples: 0 }),
  }),
  getEvaluation: () => ({ method: 'GET', path: '/v1/evaluations/ev_000000000000' }),
  listVersionEvaluations: () => ({ method: 'GET', path: '/v1/models/iris/versions/1/evaluations' }),
  selectModel: () => ({
    method: 'POST',
    path: '/v1/models:select',
    ...json({ task: 'tabular-classification', inputs: [{ datatype: 'FP32', shape: [-1, 4] }], latency_samples: 10 }),
  }),
};

/** Where a request names a model (the server's table: mock-server/middleware/model-references.ts). */
export type ModelPlace = { in: 'path' | 'query' | 'training-job' | 'evaluation'; name: string } | { in: 'body'; pointer: string };

/**
 * The request with each place set to `nameAt(place)` (a model's name, or for a job or an
 * evaluation its id): path parameters by the operation's path template, query parameters, and
 * JSON body fields by pointer (`*` for every array item). The sweep uses it to name another model
 * in one place at a time.
 */
export function namingModels(
  request: OperationRequest,
  template: string,
  places: readonly ModelPlace[],
  nameAt: (place: ModelPlace) => string,
): OperationRequest {
  const url = new URL(request.path, 'http://sweep');
  const segments = url.pathname.split('/');
  const templateSegments = template.split('/');
  let body =
    typeof request.body === 'string' && request.headers?.['content-type'] === 'application/json' ? JSON.parse(request.body) : undefined;
  for (const place of places) {
    const value = nameAt(place);
    if (place.in === 'query') url.searchParams.set(place.name, value);
    else if (place.in === 'body') body = setAt(body ?? {}, place.pointer.split('/').slice(1), value);
    else {
      const index = templateSegments.indexOf(`{${place.name}}`);
      if (index < 0) throw new Error(`${template} has no path parameter ${place.name}`);
      segments[index] = encodeURIComponent(value);
    }
  }
  return {
    ...request,
    path: `${segments.join('/')}${url.search}`,
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { ...request.headers, 'content-type': 'application/json' } }),
  };
}

function setAt(target: unknown, segments: string[], value: string): unknown {
  const [head, ...rest] = segments;
  if (head === undefined) return value;
  if (head === '*') return Array.isArray(target) ? target.map((item) => setAt(item, rest, value)) : target;
  const record = (target ?? {}) as Record<string, unknown>;
  return { ...record, [head]: setAt(record[head], rest, value) };
}
