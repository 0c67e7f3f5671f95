/** Readable names for the contract's schemas (generated from openapi.yaml). */
import type { components } from './generated/openapi';

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
export type ModelUpdateParams = Schemas['ModelUpdate'];
export type ModelStatus = Schemas['ModelStatus'];
export type ModelVersion = Schemas['ModelVersion'];
export type VersionUploadMetadata = Schemas['VersionUploadMetadata'];
export type Alias = Schemas['Alias'];
export type AliasTarget = Schemas['AliasTarget'];
export type Batching = Schemas['Batching'];
export type Scope = Schemas['Scope'];
export type ApiKey = Schemas['ApiKey'];
export type ApiKeyCreateParams = Schemas['ApiKeyCreate'];
export type ApiKeyCreated = Schemas['ApiKeyCreated'];
export type RateLimit = Schemas['RateLimit'];
export type Usage = Schemas['Usage'];
export type UsageRow = Schemas['UsageRow'];
export type ExplainRequest = Schemas['ExplainRequest'];
export type Explanation = Schemas['Explanation'];
