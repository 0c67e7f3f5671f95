/**
 * `modelport/record` (Node only): recording cassettes. `recordCassette(path)` gives a fetch for the
 * SDK (`new Modelport({ fetch: recorder.fetch })`) that writes every /v2 call and read-only /v1 call
 * to a cassette (format v1, see `modelport/cassette`); `CassetteFile` and `ModelMetadataCache` are
 * the writer and model block that `modelport record` (the proxy) shares with it.
 */
export {
  CassetteExistsError,
  CassetteFile,
  type CassetteFileOptions,
  type HeaderFields,
  type UnnumberedInteraction,
} from './cassette-file';
export { credentialsOf, ModelMetadataCache, type ReadJson } from './model-metadata';
export { isRecordedCall, upstreamBase } from './recorded-calls';
export { MAX_RECORDED_BODY_BYTES, recordCassette, type CassetteRecorder, type RecordCassetteOptions } from './recorder';
