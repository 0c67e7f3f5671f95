/** Readable names for the contract's schemas (generated from openapi.yaml). */
import type { components } from './generated/openapi';
import type { ListParams } from './core/pagination';

type Schemas = components['schemas'];

export type LiveResponse = Schemas['LiveResponse'];
export type ReadyResponse = Schemas['ReadyResponse'];
export type ServerMetadata = Schemas['ServerMetadata'];
export type RuntimeInfo = Schemas['RuntimeInfo'];
export type ModelMetadata = Schemas['ModelMetadata'];
export type TensorMetadata = Schemas['TensorMetadata'];
export type ModelReadyResponse = Schemas['ModelReadyResponse'];
export type InferenceRequest = Schemas['InferenceRequest'];
export type InferenceResponse = Schemas['InferenceResponse'];
export type RequestInput = Schemas['RequestInput'];
export type RequestOutput = Schemas['RequestOutput'];
export type ResponseOutput = Schemas['ResponseOutput'];
export type Datatype = Schemas['Datatype'];
export type RepositoryIndexEntry = Schemas['RepositoryIndexEntry'];
export type StatisticsResponse = Schemas['StatisticsResponse'];
export type ModelStatistics = Schemas['ModelStatistics'];
export type Model = Schemas['Model'];
export type ModelCreateParams = Schemas['ModelCreate'];
/** Filters (task, tag, status) and page size for `client.models.list`. */
export type ModelListParams = ListParams<'listModels'>;
export type ModelUpdateParams = Schemas['ModelUpdate'];
export type ModelStatus = Schemas['ModelStatus'];
export type ModelVersion = Schemas['ModelVersion'];
export type VersionUploadMetadata = Schemas['VersionUploadMetadata'];
export type Alias = Schemas['Alias'];
export type AliasTarget = Schemas['AliasTarget'];
export type Batching = Schemas['Batching'];
export type ExportFormat = Schemas['ExportFormat'];
export type Scope = Schemas['Scope'];
export type ApiKey = Schemas['ApiKey'];
export type ApiKeyCreateParams = Schemas['ApiKeyCreate'];
export type ApiKeyCreated = Schemas['ApiKeyCreated'];
export type RateLimit = Schemas['RateLimit'];
export type Usage = Schemas['Usage'];
export type UsageRow = Schemas['UsageRow'];
export type ExplainRequest = Schemas['ExplainRequest'];
export type Explanation = Schemas['Explanation'];
export type TrainingJob = Schemas['TrainingJob'];
export type TrainingJobCreateParams = Schemas['TrainingJobCreate'];
export type TrainingJobStatus = Schemas['TrainingJobStatus'];
/**
 * One event of a training job's stream, narrowed by `type`: after `if (event.type === 'epoch')`
 * the epoch's figures are there (`event.epoch`, `event.seconds`, ...), after `'succeeded'` the
 * registered `event.version`, after `'failed'` the `event.error`.
 */
export type TrainingEvent = Schemas['TrainingEvent'];
export type TrainingQueuedEvent = Schemas['TrainingQueuedEvent'];
export type TrainingStartedEvent = Schemas['TrainingStartedEvent'];
export type TrainingEpochEvent = Schemas['TrainingEpochEvent'];
export type TrainingSucceededEvent = Schemas['TrainingSucceededEvent'];
export type TrainingFailedEvent = Schemas['TrainingFailedEvent'];
export type TrainingCancelledEvent = Schemas['TrainingCancelledEvent'];
export type TrainingFailure = Schemas['TrainingFailure'];
export type Layer = Schemas['Layer'];
export type OptimizerConfig = Schemas['Optimizer'];
export type Dataset = Schemas['Dataset'];
export type Evaluation = Schemas['Evaluation'];
export type EvaluationCreateParams = Schemas['EvaluationCreate'];
/** Filters (model, dataset, status) and page size for `client.evaluations.list`. */
export type EvaluationListParams = ListParams<'listEvaluations'>;
export type EvaluationTarget = Schemas['EvaluationTarget'];
export type EvaluationStatus = Schemas['EvaluationStatus'];
export type EvaluatedVersion = Schemas['EvaluatedVersion'];
export type EvaluationFailure = Schemas['EvaluationFailure'];
export type EvaluationResult = Schemas['EvaluationResult'];
export type ClassMetrics = Schemas['ClassMetrics'];
export type AveragedMetrics = Schemas['AveragedMetrics'];
export type EvaluationSummary = Schemas['EvaluationSummary'];
export type SelectionParams = Schemas['SelectionRequest'];
export type SignatureInput = Schemas['SignatureInput'];
export type SelectionExample = Schemas['SelectionExample'];
export type SelectionConstraints = Schemas['SelectionConstraints'];
export type Selection = Schemas['Selection'];
export type SelectionCandidate = Schemas['SelectionCandidate'];
export type ConstraintCheck = Schemas['ConstraintCheck'];
