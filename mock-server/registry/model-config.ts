/**
 * A model's config.json: what the model is and how to serve it. Configuration is data, as in
 * TensorFlow Serving and Triton: a person can read and edit it. The parts the API also shows
 * (tensors, batching, alias targets) are openapi.yaml's schemas, so the two cannot drift apart.
 */
import type { components } from 'modelport';

export type Platform = 'tfjs_layers' | 'tfjs_graph' | 'tensorflow_savedmodel';

/** An input or output as the API describes it; in `shape` the first dimension is the batch when batching. */
export type TensorSpec = components['schemas']['TensorMetadata'];

export interface ImagePreprocessing {
  /** The FP32 input that also accepts encoded images as BYTES. */
  input: string;
  width: number;
  height: number;
  channels: 1 | 3;
  /** Multiplied into each pixel (0–255) after decoding; 1/255 gives [0, 1]. */
  scale: number;
  /** White-on-black models (MNIST) want dark-on-light drawings inverted. */
  invert?: boolean;
}

/**
 * Dynamic batching: `max_batch_size` is the largest number of samples run together (0 or 1 turns
 * batching off), `max_queue_delay_ms` how long the first request of a batch may wait for others,
 * and samples waiting beyond `max_queue_size` are refused with 503 + Retry-After.
 */
export type BatchingConfig = components['schemas']['Batching'];

/** A version's version.json, written inside the version folder before it becomes visible. */
export interface VersionInfo {
  version: number;
  platform: Platform;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  created_at?: string;
  metrics?: Record<string, unknown>;
  training?: Record<string, unknown>;
  params?: number;
  size_bytes?: number;
  /** For SavedModels: the signature served (default `serving_default`) and its tags. */
  signature?: string;
  tags?: string[];
  /** Why the version would not export (Triton, TF Serving, KServe), found at upload or training; empty when it exports. */
  export_warnings?: string[];
}

/** A version an alias points at, with its weight among the alias's targets. */
export type AliasTarget = components['schemas']['AliasTarget'];

export interface ModelConfig {
  name: string;
  task: string;
  description?: string;
  /** The platform of the versions (each version.json says its own). */
  platform?: Platform;
  labels?: string[];
  tags?: string[];
  /** The signature versions must have; taken from the first version when not declared. */
  inputs?: TensorSpec[];
  outputs?: TensorSpec[];
  preprocessing?: { image?: ImagePreprocessing };
  batching?: BatchingConfig;
  /** `production` is what unversioned requests use; several targets make a weighted canary. */
  aliases?: Record<string, AliasTarget[]>;
  created_at?: string;
  updated_at?: string;
}

/** What serving one version needs: the model's config with the version's own signature. */
export interface ServingConfig extends Omit<ModelConfig, 'platform' | 'inputs' | 'outputs'> {
  platform: Platform;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  info: VersionInfo;
}

/**
 * Built once per (config, version info) pair and then reused: it is read several times per
 * request. Configs are replaced, never changed in place (ModelManager.updateConfig), so a
 * changed config is a new key and its changes are seen at once.
 */
const servingConfigs = new WeakMap<ModelConfig, WeakMap<VersionInfo, ServingConfig>>();

export function servingConfig(config: ModelConfig, info: VersionInfo): ServingConfig {
  let byInfo = servingConfigs.get(config);
  if (!byInfo) {
    byInfo = new WeakMap();
    servingConfigs.set(config, byInfo);
  }
  let serving = byInfo.get(info);
  if (!serving) {
    serving = { ...config, platform: info.platform, inputs: info.inputs, outputs: info.outputs, info };
    byInfo.set(info, serving);
  }
  return serving;
}

export const DEFAULT_BATCHING: BatchingConfig = { max_batch_size: 0, max_queue_delay_ms: 0, max_queue_size: 1024 };
