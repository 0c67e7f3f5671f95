/**
 * The TensorFlow.js API the server uses: what the `@tensorflow/tfjs` union package exports, minus
 * what a Node server never needs (webgl, tfjs-data, and the union's core-js/yargs dependencies),
 * so `@tensorflow/tfjs` is not a dependency of @modelport/server.
 *
 * Import it as a type only (`import type * as tfTypes from './tfjs'`). At run time the backend
 * loader requires vendor/tfjs.cjs, which runtime/native/vendor-tfjs-node.mjs builds from this file
 * with esbuild: tfjs-core's gradients and chained ops ship only as ES modules that import
 * directories (`./gradients`), which Node and tsx cannot load, so they are bundled into a
 * CommonJS file while every `@tensorflow/*` package itself stays external (one tfjs-core).
 */
import '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-core/dist/public/chained_ops/register_all_chained_ops';
import { version_core } from '@tensorflow/tfjs-core';
import { version_cpu } from '@tensorflow/tfjs-backend-cpu';
import { version_layers } from '@tensorflow/tfjs-layers';
import { version_converter } from '@tensorflow/tfjs-converter';
import type { MetaGraph, ModelPredictConfig, ModelTensorInfo, NamedTensorMap, Tensor, Tensor3D, Tensor4D } from '@tensorflow/tfjs-core';

export * from '@tensorflow/tfjs-core';
export * from '@tensorflow/tfjs-layers';
export * from '@tensorflow/tfjs-converter';
export * from '@tensorflow/tfjs-backend-cpu';

/** Shaped like the union package's, which tfjs-node extends and the server reports. */
export const version = {
  'tfjs-core': version_core,
  'tfjs-backend-cpu': version_cpu,
  'tfjs-layers': version_layers,
  'tfjs-converter': version_converter,
  tfjs: version_core,
};

/** The part of tfjs-node's `tf.node` the server and its tests use (native backend only). */
export interface NodeExtras {
  loadSavedModel(path: string, tags?: string[], signature?: string): Promise<SavedModel>;
  getMetaGraphsFromSavedModel(path: string): Promise<MetaGraph[]>;
  decodeImage(contents: Uint8Array, channels?: number, dtype?: string, expandAnimations?: boolean): Tensor3D | Tensor4D;
  encodePng(image: Tensor3D, compression?: number): Promise<Uint8Array>;
}

/** tfjs-node's TFSavedModel: one TensorFlow session. */
export interface SavedModel {
  readonly inputs: ModelTensorInfo[];
  readonly outputs: ModelTensorInfo[];
  predict(inputs: Tensor | Tensor[] | NamedTensorMap, config?: ModelPredictConfig): Tensor | Tensor[] | NamedTensorMap;
  dispose(): void;
}
