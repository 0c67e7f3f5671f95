export { Modelport, Modelport as default } from './client';
export type { ClientOptions, RequestOptions, RequestBody, TransferProgress } from './core/transport';
export type { Tensor, TensorLike, TypedArray } from './core/tensors';
export type { InferOptions, DecodedInferenceResponse } from './resources/inference';
export type { PredictOptions, Prediction, Classification, ClassScore } from './resources/predictions';
export type { ModelVersionOptions, ExplainOptions, ExportOptions, DecodedExplanation, AttributionTensor } from './resources/models';
export type { UploadOptions, UploadProgress, VersionSource } from './resources/versions';
export { PagePromise, type Page } from './core/pagination';
export * from './errors';
export type { ApiKeys } from './resources/api-keys';
export type { TrainingJobRun } from './resources/training-jobs';
export type { DatasetCreateParams, DatasetRecord, DatasetSource } from './resources/datasets';
export { EvaluationFailedError, type EvaluationRun, type EvaluationWaitOptions } from './resources/evaluations';
export type * from './types';
// The wire codecs and generated contract types, public so that servers and tools (the
// @modelport/server package among them) encode tensors exactly as the SDK does.
export {
  DATATYPE_SIZE,
  HEADER_LENGTH_HEADER,
  elementCount,
  encodeBinaryBody,
  float16BitsToFloat32,
  float32ToFloat16Bits,
  fromBytes,
  splitBinaryBody,
  toBytes,
  type ByteArray,
  type Datatype,
} from './core/binary';
export { fromResponseOutput } from './core/tensors';
export type { components, operations, paths } from './generated/openapi';
