/**
 * The op allowlist of uploaded SavedModels (first version: signature only; the checks follow).
 */
export interface PolicyReport {
  /** How many nodes use each op, over the graph and every function of every meta graph checked. */
  ops: Record<string, number>;
  /** Functions in the libraries checked. */
  functions: number;
  /** Nodes checked. */
  nodes: number;
  /** True when the check was skipped (`trusted`: `modelport serve --trust-models`). */
  trusted: boolean;
}

export interface SavedModelPolicyOptions {
  /** The meta graph's tags (as loaded), e.g. ['serve']. */
  tags: string[];
  /** Relative paths under assets/ present in the upload. */
  assetFiles: string[];
  /** Skip the allowlist (the server's `trustUploadedModels`); the protobuf is still parsed. */
  trusted?: boolean;
}

export function checkSavedModelPolicy(savedModelPb: Uint8Array, options: SavedModelPolicyOptions): PolicyReport {
  void savedModelPb;
  void options;
  return { ops: {}, functions: 0, nodes: 0, trusted: options.trusted === true };
}
