/**
 * What the config generators take: plain data a caller builds from the registry's config and
 * version info (registry/model-config.ts), so that the generators stay pure functions of it.
 */
import type { OipDatatype } from './datatypes';

/** An input or output as modelport's metadata gives it: in `shape`, -1 is a variable dimension. */
export interface ExportTensor {
  name: string;
  datatype: OipDatatype;
  shape: readonly number[];
}

/** The model's dynamic batching (openapi.yaml `Batching`). */
export interface ExportBatching {
  max_batch_size: number;
  max_queue_delay_ms: number;
  max_queue_size: number;
}

/** A version an alias points at, with its share of the alias's traffic (openapi.yaml `AliasTarget`). */
export interface ExportAliasTarget {
  version: number;
  weight: number;
}

/** The exported versions, ascending and once each; none, or one that is not a version number, is a caller's mistake. */
export function sortedVersions(versions: readonly number[], model: string): number[] {
  const sorted = [...new Set(versions)].sort((a, b) => a - b);
  // An empty version policy would serve nothing and hide the mistake.
  if (sorted.length === 0) throw new Error(`no version of '${model}' to export`);
  for (const version of sorted) {
    if (!Number.isSafeInteger(version) || version < 1) throw new Error(`'${model}' version ${version} is not a version number`);
  }
  return sorted;
}
