/**
 * The Open Inference Protocol REST checks, in the order the SDK meets them: health, server
 * metadata and its extensions, then one model (metadata, ready, infer with and without a
 * version, JSON and binary), then error bodies. Each check is one or two requests and one row.
 */
import { HEADER_LENGTH_HEADER, splitBinaryBody } from 'modelport';
import {
  classificationProblems,
  describeModelMetadata,
  describeOutputs,
  errorBodyProblems,
  inferResponseProblems,
  modelMetadataProblems,
  serverMetadataProblems,
  type InferExpectation,
} from './answers';
import { type Exchange, isObject, NoAnswer, quote, send, type Send, type Target } from './exchange';
import { binaryRequest, classCount, mismatchedRequest, REQUEST_ID, zerosRequest, type TensorMetadata } from './requests';

export type Outcome = 'pass' | 'fail' | 'not-offered';

export interface CheckResult {
  id: string;
  check: string;
  /** `GET /v2/health/live`; several requests joined by ` then `. */
  request: string;
  outcome: Outcome;
  /** The HTTP status of the answer judged; absent when there was none. */
  status?: number;
  evidence: string;
}

export interface ConformanceOptions {
  target: Target;
  model?: string | undefined;
  version?: string | undefined;
}

export interface ConformanceReport {
  url: string;
  model?: string;
  version?: string;
  /** Where the model and version came from. */
  selection?: string;
  results: CheckResult[];
  /** Set when no model could be chosen: why, and that --model is needed. */
  needsModel?: string;
}

/** Extensions this command checks; the others a server announces are listed as not checked. */
const CHECKED_EXTENSIONS = ['binary_tensor_data', 'classification', 'model_repository', 'statistics'];

const UNKNOWN_MODEL = 'modelport-conformance-no-such-model';

/** A model name or version as one path segment. */
const segment = (value: string) => encodeURIComponent(value);

type Verdict = Omit<CheckResult, 'id' | 'check' | 'request' | 'status'>;

function verdict(outcome: Outcome, evidence: string): Verdict {
  return { outcome, evidence };
}

/** The answer of one check: the exchange it judged and the verdict. */
interface Judged {
  exchange: Exchange;
  verdict: Verdict;
}

class Run {
  readonly results: CheckResult[] = [];
  extensions: string[] = [];

  constructor(readonly target: Target) {}

  send(method: string, path: string, init?: Send): Promise<Exchange> {
    return send(this.target, method, path, init);
  }

  /** Runs one check; a server that does not answer fails it with the reason. */
  async check(id: string, check: string, request: string, judge: () => Promise<Judged | Verdict>): Promise<CheckResult> {
    let row: CheckResult;
    try {
      const judged = await judge();
      row =
        'exchange' in judged
          ? { id, check, request: judged.exchange.request, status: judged.exchange.status, ...judged.verdict }
          : { id, check, request, ...judged };
    } catch (error) {
      if (!(error instanceof NoAnswer)) throw error;
      row = { id, check, request, outcome: 'fail', evidence: `no answer: ${error.message}` };
    }
    this.results.push(row);
    return row;
  }

  announces(extension: string): boolean {
    return this.extensions.includes(extension);
  }

  /** An extension the server did not announce and that did not work is not offered, not failed. */
  extensionVerdict(extension: string, outcome: Outcome, evidence: string): Verdict {
    if (outcome === 'fail' && !this.announces(extension))
      return verdict('not-offered', `not announced in /v2 extensions; tried: ${evidence}`);
    if (outcome === 'pass' && !this.announces(extension)) return verdict('pass', `${evidence} (works, though /v2 does not announce it)`);
    return verdict(outcome, evidence);
  }
}

export async function runConformance(options: ConformanceOptions): Promise<ConformanceReport> {
  const run = new Run(options.target);
  const report: ConformanceReport = { url: options.target.baseUrl, results: run.results };
  const live = await probe(run, 'health.live', 'server live', '/v2/health/live', 'live');
  if (live.status === undefined) throw new NoAnswer(live.evidence.replace(/^no answer: /, ''));
  await probe(run, 'health.ready', 'server ready', '/v2/health/ready', 'ready');
  await serverMetadata(run);
  const index = await repositoryIndex(run);

  const fromIndex = index?.find((entry) => (options.model === undefined || entry.name === options.model) && entry.state === 'READY');
  const model = options.model ?? fromIndex?.name;
  if (model === undefined) {
    report.needsModel =
      index === undefined
        ? 'the repository index (POST /v2/repository/index) gave no list to choose a model from: pass --model <name>'
        : 'the repository index lists no READY model: pass --model <name>';
    return report;
  }
  report.model = model;
  const metadata = await modelMetadata(run, model);
  const version =
    options.version ?? fromIndex?.version ?? (isObject(metadata) && Array.isArray(metadata.versions) ? metadata.versions[0] : undefined);
  if (version !== undefined) report.version = String(version);
  report.selection = [
    options.model === undefined ? 'the first READY model of the repository index' : '--model',
    version === undefined
      ? 'no version known'
      : options.version !== undefined
        ? 'version from --model-version'
        : fromIndex?.version !== undefined
          ? 'version from the repository index'
          : "version from the model metadata's versions",
  ].join('; ');
  const versionMetadata = await modelMetadata(run, model, { version: report.version });
  await probe(run, 'model.ready', 'model ready', `/v2/models/${segment(model)}/ready`, 'ready');
  await versionedCheck(run, 'model.version.ready', 'model version ready', report.version, (v) =>
    probe(run, 'model.version.ready', 'model version ready', `/v2/models/${segment(model)}/versions/${segment(v)}/ready`, 'ready'),
  );
  const described = [metadata, versionMetadata].find(usableMetadata);
  const tensors = described ? { inputs: described.inputs as TensorMetadata[], outputs: described.outputs as TensorMetadata[] } : undefined;
  const inferPath = await inference(run, model, report.version, tensors);
  await binaryTensors(run, model, tensors, inferPath);
  await classification(run, model, tensors, inferPath);
  await statistics(run, model);
  await unknownModel(run);
  await badInput(run, model, tensors, inferPath);
  return report;
}

/** Metadata whose inputs and outputs can build a request, conforming or not (the evidence says which). */
function usableMetadata(body: unknown): body is { inputs: unknown[]; outputs: unknown[] } {
  const named = (list: unknown) =>
    Array.isArray(list) && list.every((t) => isObject(t) && typeof t.name === 'string' && Array.isArray(t.shape));
  return isObject(body) && named(body.inputs) && named(body.outputs);
}

/** A check on a versioned path: not offered when no version is known (versions are optional in the spec). */
async function versionedCheck(
  run: Run,
  id: string,
  check: string,
  version: string | undefined,
  body: (version: string) => Promise<unknown>,
) {
  if (version !== undefined) return body(version);
  return run.check(id, check, '-', async () =>
    verdict(
      'not-offered',
      'no version known: not from the repository index nor the model metadata (versions are optional in the spec); pass --model-version',
    ),
  );
}

/** Health and ready probes: the spec's yaml answers 200 with no body, its text a JSON object; the status is the answer. */
async function probe(run: Run, id: string, check: string, path: string, key: 'live' | 'ready') {
  return run.check(id, check, `GET ${path}`, async () => {
    const exchange = await run.send('GET', path);
    const said = isObject(exchange.json) ? exchange.json[key] : undefined;
    if (exchange.status === 200) {
      if (said === false)
        return { exchange, verdict: verdict('fail', `200 but the body says ${key}: false (${quote(exchange)}); the SDK reads it so`) };
      if (!exchange.text)
        return {
          exchange,
          verdict: verdict(
            'pass',
            `200, empty body: as the spec's open_inference_rest.yaml (200 OK, no body) and Triton answer; the SDK reads it as { ${key}: true }`,
          ),
        };
      return { exchange, verdict: verdict('pass', `200 ${quote(exchange)}`) };
    }
    const sdk =
      exchange.status === 400 || exchange.status === 503
        ? `not ${key}; the SDK reads it as { ${key}: false }`
        : 'the SDK throws on this status';
    return { exchange, verdict: verdict('fail', `${exchange.status} ${quote(exchange)}: ${sdk}`) };
  });
}

async function serverMetadata(run: Run) {
  await run.check('server.metadata', 'server metadata', 'GET /v2', async () => {
    const exchange = await run.send('GET', '/v2');
    if (exchange.status !== 200) {
      // The yaml names the path `/v2/`, the text's table `v2`: say whether the other one answers.
      const slash = await run.send('GET', '/v2/');
      const other = slash.status === 200 ? `; GET /v2/ (the yaml's path) answers 200 ${quote(slash, 60)}, the SDK calls /v2` : '';
      if (slash.status === 200 && serverMetadataProblems(slash.json).length === 0)
        run.extensions = (slash.json as { extensions: string[] }).extensions;
      return { exchange, verdict: verdict('fail', `${exchange.status} ${quote(exchange, 80)}${other}`) };
    }
    const problems = serverMetadataProblems(exchange.json);
    if (problems.length) return { exchange, verdict: verdict('fail', `${problems.join('; ')}: ${quote(exchange, 80)}`) };
    const body = exchange.json as { name: string; version: string; extensions: string[] };
    run.extensions = body.extensions;
    const unchecked = body.extensions.filter((e) => !CHECKED_EXTENSIONS.includes(e));
    const checked = body.extensions.filter((e) => CHECKED_EXTENSIONS.includes(e));
    return {
      exchange,
      verdict: verdict(
        'pass',
        `${body.name} ${body.version}; extensions checked below: ${checked.join(', ') || 'none'}` +
          (unchecked.length ? `; not checked here: ${unchecked.join(', ')}` : ''),
      ),
    };
  });
}

interface IndexEntry {
  name: string;
  version?: string;
  state?: string;
}

/** The model repository extension's index (Triton's): where the model to check comes from. */
async function repositoryIndex(run: Run): Promise<IndexEntry[] | undefined> {
  let entries: IndexEntry[] | undefined;
  await run.check('extension.model_repository', 'model_repository: index', 'POST /v2/repository/index', async () => {
    const exchange = await run.send('POST', '/v2/repository/index', { json: {} });
    const body = exchange.json;
    const ok = exchange.status === 200 && Array.isArray(body) && body.every((e) => isObject(e) && typeof e.name === 'string');
    if (!ok) return { exchange, verdict: run.extensionVerdict('model_repository', 'fail', `${exchange.status} ${quote(exchange, 80)}`) };
    entries = (body as IndexEntry[]).map((e) => ({ ...e, ...(e.version === undefined ? {} : { version: String(e.version) }) }));
    const ready = entries.filter((e) => e.state === 'READY').length;
    return { exchange, verdict: run.extensionVerdict('model_repository', 'pass', `${entries.length} entries, ${ready} READY`) };
  });
  return entries;
}

/** Model metadata, without a version or with `versioned.version`; its body when it answered 200. */
async function modelMetadata(run: Run, model: string, versioned?: { version: string | undefined }): Promise<unknown> {
  const id = versioned ? 'model.version.metadata' : 'model.metadata';
  const check = versioned ? 'model version metadata' : 'model metadata';
  let body: unknown;
  const path = versioned ? `/v2/models/${segment(model)}/versions/${segment(versioned.version ?? '')}` : `/v2/models/${segment(model)}`;
  const judge = async () => {
    const exchange = await run.send('GET', path);
    if (exchange.status !== 200) return { exchange, verdict: verdict('fail', `${exchange.status} ${quote(exchange, 100)}`) };
    body = exchange.json;
    const problems = modelMetadataProblems(body, model);
    if (problems.length) return { exchange, verdict: verdict('fail', `${problems.join('; ')}: ${quote(exchange, 80)}`) };
    return { exchange, verdict: verdict('pass', describeModelMetadata(body as Record<string, unknown>)) };
  };
  if (!versioned) await run.check(id, check, `GET ${path}`, judge);
  else await versionedCheck(run, id, check, versioned.version, () => run.check(id, check, `GET ${path}`, judge));
  return body;
}

type Tensors = { inputs: TensorMetadata[]; outputs: TensorMetadata[] } | undefined;

const NO_METADATA = verdict('fail', 'no model metadata with inputs and outputs to build a request from (see the metadata rows)');

/** JSON infer without and with a version; returns the infer path that worked (else one the server routes), for the checks after it. */
async function inference(run: Run, model: string, version: string | undefined, tensors: Tensors): Promise<string | undefined> {
  const paths: [string, string, string, string | undefined][] = [
    ['infer', 'infer (JSON)', `/v2/models/${segment(model)}/infer`, undefined],
    ['infer.version', 'infer with version (JSON)', `/v2/models/${segment(model)}/versions/${segment(version ?? '')}/infer`, version],
  ];
  let working: string | undefined;
  let routed: string | undefined;
  for (const [id, check, path, asked] of paths) {
    const body = async () =>
      run.check(id, check, `POST ${path}`, async () => {
        if (!tensors) return NO_METADATA;
        const exchange = await run.send('POST', path, { json: zerosRequest(tensors.inputs) });
        const expected = { model, version: asked, outputs: tensors.outputs.map((o) => o.name) };
        const judged = judgeInfer(exchange, expected);
        if (judged.outcome === 'pass') working ??= path;
        if (exchange.status !== 404) routed ??= path;
        return { exchange, verdict: judged };
      });
    if (asked === undefined && id === 'infer.version') await versionedCheck(run, id, check, undefined, body);
    else await body();
  }
  return working ?? routed;
}

function judgeInfer(exchange: Exchange, expected: InferExpectation): Verdict {
  if (exchange.status !== 200) return verdict('fail', `${exchange.status} ${quote(exchange, 100)}`);
  const problems = inferResponseProblems(exchange.json, expected, REQUEST_ID);
  if (problems.length) return verdict('fail', `${problems.join('; ')}: ${quote(exchange, 80)}`);
  return verdict('pass', `outputs ${describeOutputs(exchange.json as Record<string, unknown>)}; id returned`);
}

/** The binary tensor extension: inputs sent binary, outputs asked binary, `Inference-Header-Content-Length` both ways. */
async function binaryTensors(run: Run, model: string, tensors: Tensors, inferPath: string | undefined) {
  const path = inferPath ?? `/v2/models/${segment(model)}/infer`;
  await run.check('extension.binary_tensor_data', 'binary_tensor_data: infer', `POST ${path}`, async () => {
    if (!tensors) return run.extensionVerdict('binary_tensor_data', NO_METADATA.outcome, NO_METADATA.evidence);
    const request = binaryRequest(tensors.inputs, tensors.outputs);
    if (typeof request === 'string') return run.extensionVerdict('binary_tensor_data', 'fail', `cannot build the request: ${request}`);
    const exchange = await run.send('POST', path, {
      body: request.body,
      headers: { 'content-type': 'application/octet-stream', [HEADER_LENGTH_HEADER]: String(request.headerLength) },
    });
    const judged = judgeBinary(exchange, { model, outputs: tensors.outputs.map((o) => o.name), binary: true });
    return { exchange, verdict: run.extensionVerdict('binary_tensor_data', judged.outcome, judged.evidence) };
  });
}

function judgeBinary(exchange: Exchange, expected: InferExpectation): Verdict {
  if (exchange.status !== 200) return verdict('fail', `${exchange.status} ${quote(exchange, 100)}`);
  const length = exchange.headers.get(HEADER_LENGTH_HEADER);
  if (length === null) return verdict('fail', `200 without Inference-Header-Content-Length: ${quote(exchange, 80)}`);
  let header: unknown;
  let rest: Uint8Array;
  try {
    const split = splitBinaryBody(exchange.bytes, Number(length));
    header = JSON.parse(split.headerText);
    rest = split.rest;
  } catch (error) {
    return verdict('fail', `the JSON header (Inference-Header-Content-Length ${length}) cannot be read: ${(error as Error).message}`);
  }
  const problems = inferResponseProblems(header, expected, REQUEST_ID);
  if (problems.length) return verdict('fail', `${problems.join('; ')}: ${quote({ text: JSON.stringify(header), json: header }, 80)}`);
  const outputs = (header as { outputs: { parameters: { binary_data_size: number } }[] }).outputs;
  const sizes = outputs.reduce((n, o) => n + o.parameters.binary_data_size, 0);
  if (sizes !== rest.byteLength)
    return verdict('fail', `the outputs' binary_data_size add up to ${sizes} bytes; ${rest.byteLength} follow the JSON header`);
  return verdict('pass', `header ${length} bytes + ${rest.byteLength} bytes of ${describeOutputs(header as Record<string, unknown>)}`);
}

/** The classification extension: the first output asked as its top classes. */
async function classification(run: Run, model: string, tensors: Tensors, inferPath: string | undefined) {
  const path = inferPath ?? `/v2/models/${segment(model)}/infer`;
  await run.check('extension.classification', 'classification: top classes', `POST ${path}`, async () => {
    const output = tensors?.outputs[0];
    if (!tensors || !output) return run.extensionVerdict('classification', NO_METADATA.outcome, NO_METADATA.evidence);
    const classes = classCount(output);
    const request = zerosRequest(tensors.inputs, [{ name: output.name, parameters: { classification: classes } }]);
    const exchange = await run.send('POST', path, { json: request });
    if (exchange.status !== 200)
      return { exchange, verdict: run.extensionVerdict('classification', 'fail', `${exchange.status} ${quote(exchange, 100)}`) };
    const outputs = isObject(exchange.json) && Array.isArray(exchange.json.outputs) ? exchange.json.outputs : [];
    const answered = outputs.find((o: unknown) => isObject(o) && o.name === output.name);
    const problems = answered ? classificationProblems(answered, classes) : [`output '${output.name}' is missing`];
    const evidence = problems.length
      ? `${problems.join('; ')}: ${quote(exchange, 80)}`
      : `${output.name}: ${JSON.stringify((answered as { data: unknown }).data).slice(0, 80)}`;
    return { exchange, verdict: run.extensionVerdict('classification', problems.length ? 'fail' : 'pass', evidence) };
  });
}

/** The statistics extension (Triton's): `model_stats` with an entry for the model. */
async function statistics(run: Run, model: string) {
  const path = `/v2/models/${segment(model)}/stats`;
  await run.check('extension.statistics', 'statistics: model', `GET ${path}`, async () => {
    const exchange = await run.send('GET', path);
    const stats = isObject(exchange.json) && Array.isArray(exchange.json.model_stats) ? exchange.json.model_stats : undefined;
    const entry = stats?.find((s: unknown) => isObject(s) && s.name === model) as Record<string, unknown> | undefined;
    if (exchange.status !== 200 || !entry) {
      const why =
        exchange.status === 200
          ? `no model_stats entry named '${model}': ${quote(exchange, 80)}`
          : `${exchange.status} ${quote(exchange, 80)}`;
      return { exchange, verdict: run.extensionVerdict('statistics', 'fail', why) };
    }
    return { exchange, verdict: run.extensionVerdict('statistics', 'pass', `inference_count ${entry.inference_count}`) };
  });
}

/** An error must be an error status with `{ "error": <string> }` (the spec: "typically 400"; a missing model is 404 on most servers). */
function judgeError(exchange: Exchange, what: string, expectedStatus: number): Verdict {
  const problems = errorBodyProblems(exchange.json);
  if (exchange.status < 400 || exchange.status >= 500)
    return verdict('fail', `${exchange.status} for ${what}, not an error status 4xx: ${quote(exchange, 80)}`);
  if (problems.length) return verdict('fail', `${exchange.status} but ${problems.join('; ')}: ${quote(exchange, 80)}`);
  const note = exchange.status === expectedStatus ? '' : ` (not ${expectedStatus}; the spec asks an error status, "typically 400")`;
  return verdict('pass', `${exchange.status}${note} ${quote(exchange, 100)}`);
}

async function unknownModel(run: Run) {
  const path = `/v2/models/${UNKNOWN_MODEL}`;
  await run.check('error.unknown_model', 'error: unknown model', `GET ${path}`, async () => {
    const exchange = await run.send('GET', path);
    return { exchange, verdict: judgeError(exchange, 'a model that does not exist', 404) };
  });
}

async function badInput(run: Run, model: string, tensors: Tensors, inferPath: string | undefined) {
  const path = inferPath ?? `/v2/models/${segment(model)}/infer`;
  await run.check('error.bad_input', 'error: input data not fitting its shape', `POST ${path}`, async () => {
    if (!tensors) return NO_METADATA;
    const exchange = await run.send('POST', path, { json: mismatchedRequest(tensors.inputs) });
    return { exchange, verdict: judgeError(exchange, 'input data that does not fit its shape', 400) };
  });
}
