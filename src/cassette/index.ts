/**
 * `modelport/cassette`: record and replay's file format and matching, browser-safe (no node: module,
 * no Buffer) and free of the server. A cassette is JSON lines: a header, then one recorded exchange per
 * line (the format is documented in the README's "Record and replay" section).
 */
export {
  CASSETTE_VERSION,
  CassetteFormatError,
  RECORDED_REQUEST_HEADERS,
  RECORDED_RESPONSE_HEADERS,
  bodyFromBytes,
  bytesOfBody,
  parseCassette,
  pickHeaders,
  serializeCassette,
  serializeHeader,
  serializeInteraction,
  type Body,
  type Cassette,
  type CassetteHeader,
  type Interaction,
  type JsonValue,
  type RecordedModel,
  type RecordedRequest,
  type RecordedResponse,
} from './format';
export {
  DEFAULT_ATOL,
  DEFAULT_RTOL,
  describeComparison,
  isMatch,
  matchRequest,
  rankRecordings,
  type Comparison,
  type Distance,
  type IncomingRequest,
  type MatchMode,
  type MatchOptions,
  type MatchResult,
} from './match';
export { decodeRequestTensors, decodeResponseTensors, interactionTensors, type DecodedInferenceBody, type NamedTensor } from './tensors';
export type { InputDelta, Tolerance } from './tolerance';
export { inferPath, inferPathModel, metadataPath, modelOfPath, type ModelRef } from './model-path';
export {
  REPLAY_HEADER,
  REPLAY_NEAREST_HEADER,
  REPLAY_SEQ_HEADER,
  createReplayer,
  type ReplayOptions,
  type Replayer,
} from './replayer';
export { diffCassette, type DiffOptions } from './diff';
export { DiffError } from './diff-target';
export {
  crossedThresholds,
  modelLabel,
  type DriftReport,
  type DriftThresholds,
  type ModelDrift,
  type OutputDrift,
  type Percentiles,
} from './diff-report';
export type { LabelFlip, OutputMismatch } from './diff-compare';
