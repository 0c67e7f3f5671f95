/**
 * Which recording answers a request. An infer request (POST /v2/models/<m>[/versions/<v>]/infer)
 * matches a recording of the same method and path (so the same model and version) whose inputs
 * have the same names, datatypes and shapes and whose data are equal within rtol/atol (see
 * tolerance.ts; defaults rtol 1e-5, atol 1e-6), whether either was sent as JSON or as binary.
 * Any other request (metadata, ready, health, read-only /v1) matches on method, path, query and
 * the exact body.
 *
 * The closest recording is the one on the same method and path first, then with the fewest
 * structural differences (input names, datatypes, shapes, query, body), then within tolerance, then
 * with the smallest max |Δ|, then the fewest elements out of tolerance, then the earliest seq.
 */
import { HEADER_LENGTH_HEADER } from 'modelport';
import {
  RECORDED_REQUEST_HEADERS,
  bodyFromBytes,
  bytesOfBody,
  pickHeaders,
  type Body,
  type Cassette,
  type Interaction,
  type RecordedRequest,
} from './format';
import { decodeRequestTensors, type DecodedInferenceBody, type NamedTensor } from './tensors';
import { DEFAULT_ATOL, DEFAULT_RTOL, bytesEqual, compareTensor, positionInShape, type InputDelta, type Tolerance } from './tolerance';

export { DEFAULT_ATOL, DEFAULT_RTOL } from './tolerance';

export type MatchMode = 'strict' | 'nearest';

export interface MatchOptions {
  /** Relative tolerance for floating-point inputs; default 1e-5. */
  rtol?: number | undefined;
  /** Absolute tolerance for floating-point inputs; default 1e-6. */
  atol?: number | undefined;
  /** 'strict' (default): only a match answers. 'nearest': the closest recording on the same method and path answers too. */
  mode?: MatchMode | undefined;
}

/** A request to answer, as a replay handler receives it. */
export interface IncomingRequest {
  method: string;
  /** The path without the query, e.g. `/v2/models/iris/infer`. */
  path: string;
  /** The raw query without `?`; default ''. */
  query?: string | undefined;
  headers?: Record<string, string> | Headers | undefined;
  /** The raw bytes, or a body already in cassette form. */
  body?: Uint8Array | Body | null | undefined;
}

/** How far a request is from one recording. */
export interface Comparison {
  interaction: Interaction;
  /** Same method and path (for an infer request: same model and version). */
  samePath: boolean;
  /** What differs in structure, one sentence each: method and path, query, input names, datatypes, shapes, body. */
  differences: string[];
  /** Per input of the same name, datatype and shape: how its data differ. */
  inputs: InputDelta[];
  distance: Distance;
}

export interface Distance {
  structural: number;
  /** The largest |received − recorded| over every compared element. */
  maxDelta: number;
  /** Elements outside the tolerance, over every compared input. */
  outside: number;
}

export type MatchResult =
  /** A recording within tolerance: it answers. */
  | { outcome: 'matched'; interaction: Interaction; comparison: Comparison }
  /** No match, mode 'nearest': the closest recording on the same method and path answers; `description` says how it differs. */
  | { outcome: 'nearest'; interaction: Interaction; comparison: Comparison; description: string }
  /** No recording answers: `error` names the request, the closest recording and how it differs. */
  | { outcome: 'unmatched'; closest: Comparison | undefined; error: string };

const INFER_PATH = /^\/v2\/models\/[^/]+(?:\/versions\/[^/]+)?\/infer$/;

export function matchRequest(cassette: Cassette, request: IncomingRequest, options: MatchOptions = {}): MatchResult {
  const closest = rankRecordings(cassette, request, options)[0];
  if (closest && isMatch(closest)) return { outcome: 'matched', interaction: closest.interaction, comparison: closest };
  const what = `${request.method.toUpperCase()} ${request.path}${request.query ? `?${request.query}` : ''}`;
  if (!closest) return { outcome: 'unmatched', closest, error: `no recording answers ${what}: the cassette has no interactions` };
  if (!closest.samePath) {
    return { outcome: 'unmatched', closest, error: `no recording of ${what}; the cassette has ${recordedCalls(cassette)}` };
  }
  const description = describeComparison(closest);
  if (options.mode === 'nearest') return { outcome: 'nearest', interaction: closest.interaction, comparison: closest, description };
  const tolerance = `rtol ${options.rtol ?? DEFAULT_RTOL}, atol ${options.atol ?? DEFAULT_ATOL}`;
  return { outcome: 'unmatched', closest, error: `no recording matches ${what} (${tolerance}); the closest is ${description}` };
}

/** "POST /v2/models/digits/infer ×2, GET /v2/health/ready ×1": what a cassette can answer, for a request it cannot. */
function recordedCalls(cassette: Cassette): string {
  const SHOWN = 10;
  const counts = new Map<string, number>();
  for (const { request } of cassette.interactions) {
    const call = `${request.method} ${request.path}`;
    counts.set(call, (counts.get(call) ?? 0) + 1);
  }
  const calls = [...counts].map(([call, count]) => `${call} ×${count}`);
  return calls.length > SHOWN ? `${calls.slice(0, SHOWN).join(', ')} and ${calls.length - SHOWN} more` : calls.join(', ');
}

/** Every recording from closest to farthest, for tools that show more than the best one. */
export function rankRecordings(cassette: Cassette, request: IncomingRequest, options: Omit<MatchOptions, 'mode'> = {}): Comparison[] {
  const tolerance: Tolerance = { rtol: options.rtol ?? DEFAULT_RTOL, atol: options.atol ?? DEFAULT_ATOL };
  const incoming = toRecordedRequest(request);
  const decoded = isInfer(incoming) ? tryDecode(incoming) : undefined;
  return cassette.interactions.map((interaction) => compareRequest(incoming, decoded, interaction, tolerance)).sort(byCloseness);
}

export function isMatch(comparison: Comparison): boolean {
  return comparison.samePath && comparison.distance.structural === 0 && comparison.distance.outside === 0;
}

/** "seq 7 (model digits version 1, POST /v2/models/digits/infer): input 'pixels': …" */
export function describeComparison(comparison: Comparison): string {
  const { interaction } = comparison;
  const model = interaction.model
    ? `model ${interaction.model.name}${interaction.model.version === null ? '' : ` version ${interaction.model.version}`}, `
    : '';
  const where = `seq ${interaction.seq} (${model}${interaction.request.method} ${interaction.request.path})`;
  const inputs = comparison.inputs.filter((input) => input.outside > 0).map((input) => describeInput(input, comparison));
  const parts = [...comparison.differences, ...inputs];
  return `${where}: ${parts.length === 0 ? 'identical within tolerance' : parts.join('; ')}`;
}

function describeInput(delta: InputDelta, comparison: Comparison): string {
  const shape = recordedTensor(comparison.interaction, delta.input)?.shape ?? [];
  const worst = delta.worst!;
  const at = `element ${worst.index}${shape.length > 1 ? ` [${positionInShape(worst.index, shape).join(', ')}]` : ''}`;
  const count = `${delta.outside} of ${delta.elements} elements`;
  const values = `(recorded ${worst.recorded}, received ${worst.received})`;
  if (delta.maxDelta === 0) return `input '${delta.input}': ${count} differ, first at ${at} ${values}`;
  return `input '${delta.input}': ${count} outside tolerance, max |Δ| ${formatNumber(delta.maxDelta)} at ${at} ${values}`;
}

function formatNumber(value: number): string {
  return Number.isFinite(value) ? String(Number(value.toPrecision(6))) : String(value);
}

function byCloseness(a: Comparison, b: Comparison): number {
  return (
    Number(b.samePath) - Number(a.samePath) ||
    a.distance.structural - b.distance.structural ||
    Number(a.distance.outside > 0) - Number(b.distance.outside > 0) ||
    a.distance.maxDelta - b.distance.maxDelta ||
    a.distance.outside - b.distance.outside ||
    a.interaction.seq - b.interaction.seq
  );
}

function toRecordedRequest(request: IncomingRequest): RecordedRequest {
  const headers = pickHeaders(request.headers ?? {}, RECORDED_REQUEST_HEADERS);
  const body = request.body instanceof Uint8Array || request.body == null ? bodyFromBytes(request.body, headers) : request.body;
  return { method: request.method.toUpperCase(), path: request.path, query: request.query ?? '', headers, body };
}

function isInfer(request: RecordedRequest): boolean {
  return request.method === 'POST' && INFER_PATH.test(request.path);
}

type Decoded = DecodedInferenceBody | { error: string };

function tryDecode(request: RecordedRequest): Decoded {
  try {
    return decodeRequestTensors(request);
  } catch (error) {
    return { error: (error as Error).message };
  }
}

// A recording's request is decoded once per cassette object, not once per incoming request.
const decodedRecordings = /* @__PURE__ */ new WeakMap<RecordedRequest, Decoded>();

function decodedRecording(interaction: Interaction): Decoded {
  let decoded = decodedRecordings.get(interaction.request);
  if (decoded === undefined) {
    decoded = tryDecode(interaction.request);
    decodedRecordings.set(interaction.request, decoded);
  }
  return decoded;
}

function recordedTensor(interaction: Interaction, name: string): NamedTensor | undefined {
  const decoded = decodedRecording(interaction);
  return 'tensors' in decoded ? decoded.tensors.find((tensor) => tensor.name === name) : undefined;
}

function compareRequest(
  incoming: RecordedRequest,
  decoded: Decoded | undefined,
  interaction: Interaction,
  tolerance: Tolerance,
): Comparison {
  const recorded = interaction.request;
  const differences: string[] = [];
  const samePath = incoming.method === recorded.method.toUpperCase() && incoming.path === recorded.path;
  if (!samePath) differences.push(`recorded ${recorded.method} ${recorded.path}, received ${incoming.method} ${incoming.path}`);
  if (incoming.query !== recorded.query) differences.push(`recorded query '${recorded.query}', received '${incoming.query}'`);
  let inputs: InputDelta[] = [];
  // Another path (model, version) is one difference; its bodies are not worth comparing.
  if (!samePath)
    return { interaction, samePath, differences, inputs, distance: { structural: differences.length, maxDelta: 0, outside: 0 } };
  const recordedDecoded = decoded && isInfer(recorded) ? decodedRecording(interaction) : undefined;
  if (decoded && recordedDecoded && 'tensors' in decoded && 'tensors' in recordedDecoded) {
    inputs = compareInputs(decoded.tensors, recordedDecoded.tensors, tolerance, differences);
  } else if (!bytesEqual(bytesOfBody(incoming.body), bytesOfBody(recorded.body)) || !sameBinaryLayout(incoming, recorded)) {
    // Not tensors on both sides (not an infer call, or a body that does not decode): bodies compare exactly.
    const why = decoded && 'error' in decoded ? ` (the received body is not an inference request: ${decoded.error})` : '';
    differences.push(`the body differs from the recorded one${why}`);
  }
  const distance: Distance = {
    structural: differences.length,
    maxDelta: inputs.reduce((max, input) => Math.max(max, input.maxDelta), 0),
    outside: inputs.reduce((sum, input) => sum + input.outside, 0),
  };
  return { interaction, samePath, differences, inputs, distance };
}

/** Equal bytes read differently (JSON, or a binary body split elsewhere) are different requests. */
function sameBinaryLayout(a: RecordedRequest, b: RecordedRequest): boolean {
  return a.headers[HEADER_LENGTH_HEADER] === b.headers[HEADER_LENGTH_HEADER];
}

function compareInputs(received: NamedTensor[], recorded: NamedTensor[], tolerance: Tolerance, differences: string[]): InputDelta[] {
  const deltas: InputDelta[] = [];
  for (const tensor of recorded) {
    const other = received.find((candidate) => candidate.name === tensor.name);
    if (!other) {
      differences.push(`input '${tensor.name}' was recorded but not received`);
    } else if (other.datatype !== tensor.datatype) {
      differences.push(`input '${tensor.name}' is ${other.datatype}, recorded ${tensor.datatype}`);
    } else if (other.shape.join() !== tensor.shape.join() || other.shape.length !== tensor.shape.length) {
      differences.push(`input '${tensor.name}' has shape [${other.shape.join(', ')}], recorded [${tensor.shape.join(', ')}]`);
    } else {
      deltas.push(compareTensor(other, tensor, tolerance));
    }
  }
  for (const tensor of received) {
    if (!recorded.some((candidate) => candidate.name === tensor.name))
      differences.push(`input '${tensor.name}' was received but not recorded`);
  }
  return deltas;
}
