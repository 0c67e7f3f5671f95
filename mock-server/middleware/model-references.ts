/**
 * Where each operation of openapi.yaml names models, declared once per operation and checked in one
 * place (middleware/model-access.ts). The table's type is every operationId of openapi.yaml, so a
 * new operation does not compile until it says where it names models, or that it names none; the
 * access test also reads openapi.yaml for model fields the table does not declare.
 */
import type { operations } from 'modelport';

export type ModelReference =
  /** A path parameter holding a model's name. */
  | { in: 'path'; name: string }
  /** A query parameter holding a model's name. */
  | { in: 'query'; name: string }
  /** A JSON pointer into the body; `*` stands for every item of an array. */
  | { in: 'body'; pointer: string }
  /** A path parameter holding a training job's id: the job's model. */
  | { in: 'training-job'; name: string }
  /** A path parameter holding an evaluation's id: every model it evaluates. */
  | { in: 'evaluation'; name: string };

/** Where an alias that the operation points (or deletes) is named. */
export type AliasReference = { in: 'path'; name: string } | { in: 'body'; pointer: string };

export interface ModelAccess {
  /** Where the request names models: each must be one the key may use (403 `model_forbidden`). */
  names?: readonly ModelReference[];
  /** The answer lists models (or their versions, jobs, figures, series): the handler shows only the key's models. */
  lists?: true;
  /** Acts on every model at once (the test controls): refused to a key restricted to some models. */
  everyModel?: true;
  /** Moves an alias of the named model when this field is present: needs `models:write` whatever the operation's own scope. */
  movesAlias?: AliasReference;
  /** Gives a new key the models in this body field (an array): a restricted caller may give only its own, and must name them. */
  grantsModels?: string;
}

export type OperationId = keyof operations;

const NONE: ModelAccess = {};
const IN_PATH: ModelAccess = { names: [{ in: 'path', name: 'model_name' }] };
const LISTS: ModelAccess = { lists: true };
const EVERY_MODEL: ModelAccess = { everyModel: true };
const TRAINING_JOB: ModelAccess = { names: [{ in: 'training-job', name: 'job_id' }] };
const ALIAS_IN_PATH: ModelAccess = { ...IN_PATH, movesAlias: { in: 'path', name: 'alias' } };

export const MODEL_ACCESS: { readonly [id in OperationId]: ModelAccess } = {
  serverLive: NONE,
  serverReady: NONE,
  serverMetadata: NONE,
  modelMetadata: IN_PATH,
  modelVersionMetadata: IN_PATH,
  modelReady: IN_PATH,
  modelVersionReady: IN_PATH,
  modelInfer: IN_PATH,
  modelVersionInfer: IN_PATH,
  repositoryIndex: LISTS,
  repositoryLoad: IN_PATH,
  repositoryUnload: IN_PATH,
  modelsStatistics: LISTS,
  modelStatistics: IN_PATH,
  modelVersionStatistics: IN_PATH,
  metrics: LISTS,
  listModels: LISTS,
  createModel: { names: [{ in: 'body', pointer: '/name' }] },
  getModel: IN_PATH,
  updateModel: IN_PATH,
  deleteModel: IN_PATH,
  listVersions: IN_PATH,
  uploadVersion: IN_PATH,
  getVersion: IN_PATH,
  deleteVersion: IN_PATH,
  loadVersion: IN_PATH,
  unloadVersion: IN_PATH,
  exportModel: IN_PATH,
  listAliases: IN_PATH,
  setAlias: ALIAS_IN_PATH,
  deleteAlias: ALIAS_IN_PATH,
  listApiKeys: NONE,
  createApiKey: { grantsModels: 'models' },
  revokeApiKey: NONE,
  getUsage: LISTS,
  resetMock: EVERY_MODEL,
  listFaults: EVERY_MODEL,
  createFault: EVERY_MODEL,
  clearFaults: EVERY_MODEL,
  listJournal: EVERY_MODEL,
  clearJournal: EVERY_MODEL,
  getVitals: NONE,
  resetVitals: NONE,
  explainModel: IN_PATH,
  listTrainingJobs: LISTS,
  createTrainingJob: { names: [{ in: 'body', pointer: '/model' }], movesAlias: { in: 'body', pointer: '/alias' } },
  getTrainingJob: TRAINING_JOB,
  cancelTrainingJob: TRAINING_JOB,
  trainingJobEvents: TRAINING_JOB,
  listDatasets: NONE,
  createDataset: NONE,
  getDataset: NONE,
  deleteDataset: NONE,
  listEvaluations: { names: [{ in: 'query', name: 'model' }], lists: true },
  createEvaluation: { names: [{ in: 'body', pointer: '/models/*/model' }] },
  getEvaluation: { names: [{ in: 'evaluation', name: 'evaluation_id' }] },
  listVersionEvaluations: IN_PATH,
  selectModel: LISTS,
};

/** Whether a reference is read from the body (checked once the body is parsed and validated). */
export function isInBody(reference: ModelReference | AliasReference): boolean {
  return reference.in === 'body';
}

/** The strings at a JSON pointer (with `*` for every array item), each with the concrete pointer it was found at. */
export function valuesAt(body: unknown, pointer: string): { value: string; at: string }[] {
  let found: { value: unknown; at: string }[] = [{ value: body, at: '' }];
  for (const segment of pointer.split('/').slice(1)) {
    const next: { value: unknown; at: string }[] = [];
    for (const { value, at } of found) {
      if (segment === '*') {
        if (Array.isArray(value)) value.forEach((item, i) => next.push({ value: item, at: `${at}/${i}` }));
      } else if (value !== null && typeof value === 'object' && Object.hasOwn(value, segment)) {
        next.push({ value: (value as Record<string, unknown>)[segment], at: `${at}/${segment}` });
      }
    }
    found = next;
  }
  return found.filter((f): f is { value: string; at: string } => typeof f.value === 'string');
}
