// Types for prepare.mjs, which stays plain JavaScript because the package's postinstall runs it.
import type * as tfTypes from '../tfjs';

export declare const TF_VERSION: string;
export declare const PREPARE_COMMAND: string;

export declare class NativeUnavailable extends Error {
  constructor(reason: string, fix: string);
  readonly fix: string;
}

export interface NativeEntry {
  vendorDir: string;
  cacheRoot: string;
  /** False when the package's vendor/ folder is missing (a clone that never ran its prepare script). */
  vendored: boolean;
  manifest?: { 'tfjs-node': string; 'tfjs-core': string; bindingSymbol: string; bindingPatch?: string };
  key?: string;
  dir?: string;
  binding?: string;
  ready: boolean;
}

export declare function nativeEntry(packageRoot: string, env?: NodeJS.ProcessEnv): NativeEntry;
export declare function prepareNative(options: {
  packageRoot: string;
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}): Promise<NativeEntry & { dir: string; binding: string; built: boolean }>;
export declare function loadNative(
  vendorDir: string,
  binding: string,
): {
  tf: typeof tfTypes;
  node: tfTypes.NodeExtras;
  tensorflowVersion: string;
};
export declare function ensureEntry(
  dir: string,
  build: (staging: string) => Promise<Record<string, unknown>>,
  options?: {
    log?: (line: string) => void;
    onBuild?: () => void;
    staleMs?: number;
    heartbeatMs?: number;
    pollMs?: number;
    maxWaitMs?: number;
  },
): Promise<{ built: boolean }>;
