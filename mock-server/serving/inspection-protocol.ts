/** Messages between the server and its upload inspection child process (inspection-child.ts). */
import type { ErrorCode, ErrorDetail } from '../http/errors';
import type { UploadSource } from '../registry/archive';
import type { ExpansionLimits } from '../registry/expansion-budget';
import type { ModelConfig } from '../registry/model-config';
import type { InspectedInfo } from './upload-inspection';
import type { UploadMetadata } from './upload-metadata';

export interface InspectionJob {
  type: 'inspect';
  /** The staging folder: empty when `source` is to be unpacked into it, else it holds the files already. */
  dir: string;
  /** The uploaded body to unpack; absent for a model the server wrote itself (a training result). */
  source?: UploadSource;
  model: ModelConfig;
  limits: ExpansionLimits;
  /** Skip the SavedModel op allowlist (--trust-models). */
  trusted: boolean;
  /** The longest the test-load may take (--max-model-load-seconds). */
  maxLoadMs: number;
}

export type FromInspection =
  | {
      type: 'accepted';
      info: InspectedInfo;
      files: string[];
      metrics?: UploadMetadata['metrics'];
      /** Milliseconds spent unpacking, waiting for TensorFlow to have started, and checking and loading the model. */
      timings: { unpackMs: number; runtimeMs: number; inspectMs: number };
    }
  | { type: 'refused'; status: number; code: ErrorCode; message: string; details?: ErrorDetail[] }
  | { type: 'failed'; message: string };
