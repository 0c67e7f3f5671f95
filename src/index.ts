export { Modelport, Modelport as default } from './client';
export type { ClientOptions, RequestOptions } from './core/transport';
export type { Tensor, TensorLike, TypedArray } from './core/tensors';
export type { InferOptions, DecodedInferenceResponse } from './resources/inference';
export type { PredictOptions, Prediction, ClassScore } from './resources/predictions';
export type { ModelVersionOptions } from './resources/models';
export * from './errors';
export type * from './types';
