/**
 * A raw node:http server that answers as Triton's HTTP frontend does (triton-inference-server/server,
 * src/http_server.cc), for the SDK fidelity tests and the conformance tests.
 *
 * - Health (HandleServerHealth) and model ready (HandleModelReady): 200 or 400 with an empty body,
 *   `Content-Length: 0`, `Content-Type: text/plain` (the headers of its docs'
 *   `curl -v localhost:8000/v2/health/ready`); a model that is not ready is 400 with
 *   `{"error":"Model version not ready"}`; any method but GET is 405 `{"error":"Method Not Allowed"}`.
 * - Server and model metadata, the repository index, statistics: JSON (`application/json`); an unknown
 *   model is TRITONSERVER_ERROR_NOT_FOUND, which HttpCodeFromError makes 404
 *   `{"error":"Request for unknown model: '<m>' is not found"}`.
 * - Infer: the `id` returned; a shape that does not fit the data is 400 (INVALID_ARG); outputs asked
 *   `binary_data` come after the JSON header, with `Inference-Header-Content-Length` and
 *   `application/octet-stream` (SetResponseHeader); `classification: k` answers BYTES
 *   `"<value>:<index>"` with the value printed as std::to_string does (six decimals).
 *
 * One model serves: `densenet` version 1, input `data_0` FP32 [-1,4], output `fc6_1` FP32 [-1,3]
 * (Triton's densenet example, with small dimensions); it answers [0.1, 0.7, 0.2] for every row.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What the stub says, and what it was asked. */
export interface TritonState {
  live: boolean;
  ready: boolean;
  /** `name` or `name/version` of the models that are ready. */
  readyModels: Set<string>;
  requests: { method: string; url: string }[];
}

export interface TritonStub {
  url: string;
  state: TritonState;
  close(): Promise<void>;
}

/** Triton's own extension list (HandleServerMetadata), as its r24 releases announce it. */
const EXTENSIONS = [
  'classification',
  'sequence',
  'model_repository',
  'model_repository(unload_dependents)',
  'schedule_policy',
  'model_configuration',
  'system_shared_memory',
  'cuda_shared_memory',
  'binary_tensor_data',
  'parameters',
  'statistics',
  'trace',
  'logging',
];

const DENSENET = {
  name: 'densenet',
  versions: ['1'],
  platform: 'onnxruntime_onnx',
  inputs: [{ name: 'data_0', datatype: 'FP32', shape: [-1, 4] }],
  outputs: [{ name: 'fc6_1', datatype: 'FP32', shape: [-1, 3] }],
};
const ROW = [0.1, 0.7, 0.2];

export function defaultTritonState(): TritonState {
  return { live: true, ready: true, readyModels: new Set(['densenet', 'densenet/1']), requests: [] };
}

/** Triton's evhtp_send_reply with an empty buffer: the status, `Content-Length: 0` and `Content-Type: text/plain`. */
function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': '0' });
  res.end();
}

/** Triton's RETURN_AND_RESPOND_WITH_ERR: `{"error":"<message>"}` with the status, under the handler's content type. */
function sendError(res: ServerResponse, status: number, message: string, contentType = 'text/plain'): void {
  const body = JSON.stringify({ error: message });
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': String(Buffer.byteLength(body)) });
  res.end(body);
}

function sendJson(res: ServerResponse, value: unknown, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(value);
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)), ...headers });
  res.end(body);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const flatten = (data: unknown): unknown[] => (Array.isArray(data) ? data.flatMap(flatten) : [data]);

interface InferInput {
  name: string;
  shape: number[];
  datatype: string;
  data?: unknown;
  parameters?: { binary_data_size?: number };
}
interface InferRequest {
  id?: string;
  inputs: InferInput[];
  outputs?: { name: string; parameters?: { binary_data?: boolean; classification?: number } }[];
}

/** HandleInfer for densenet: the answer, or the 400 Triton gives. */
async function infer(req: IncomingMessage, res: ServerResponse, version: string | undefined): Promise<void> {
  const body = await readBody(req);
  const headerLength = req.headers['inference-header-content-length'];
  const jsonLength = headerLength === undefined ? body.length : Number(headerLength);
  let request: InferRequest;
  try {
    request = JSON.parse(body.subarray(0, jsonLength).toString('utf8'));
  } catch {
    return sendError(res, 400, 'failed to parse the request JSON buffer: Invalid value.', 'application/json');
  }
  const input = request.inputs?.[0];
  if (input?.name !== 'data_0' || input.datatype !== 'FP32')
    return sendError(
      res,
      400,
      `[request id: <id_unknown>] unexpected inference input '${input?.name}' for model 'densenet'`,
      'application/json',
    );
  const count = input.shape.reduce((n, d) => n * d, 1);
  const given = input.parameters?.binary_data_size !== undefined ? input.parameters.binary_data_size / 4 : flatten(input.data).length;
  if (input.shape.length !== 2 || input.shape[1] !== 4 || given !== count) {
    const message = `[request id: ${request.id ?? '<id_unknown>'}] unexpected shape for input 'data_0' for model 'densenet'. Expected [-1,4], got [${input.shape}]`;
    return sendError(res, 400, message, 'application/json');
  }
  const rows = input.shape[0]!;
  const asked = request.outputs?.find((o) => o.name === 'fc6_1')?.parameters ?? {};
  const values = Array.from({ length: rows }, () => ROW).flat();
  const output: Record<string, unknown> = { name: 'fc6_1', datatype: 'FP32', shape: [rows, 3] };
  const binary: Buffer[] = [];
  if (asked.classification) {
    const k = Math.min(asked.classification, 3);
    const ranked = ROW.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]);
    const top = ranked.slice(0, k).map(([v, i]) => `${v.toFixed(6)}:${i}`);
    Object.assign(output, { datatype: 'BYTES', shape: [rows, k], data: Array.from({ length: rows }, () => top).flat() });
  } else if (asked.binary_data) {
    const bytes = Buffer.from(new Float32Array(values).buffer);
    binary.push(bytes);
    output.parameters = { binary_data_size: bytes.length };
  } else {
    output.data = values;
  }
  const answer = { ...(request.id ? { id: request.id } : {}), model_name: 'densenet', model_version: version ?? '1', outputs: [output] };
  if (!binary.length) return sendJson(res, answer);
  const header = Buffer.from(JSON.stringify(answer));
  const all = Buffer.concat([header, ...binary]);
  res.writeHead(200, {
    'Content-Type': 'application/octet-stream',
    'Inference-Header-Content-Length': String(header.length),
    'Content-Length': String(all.length),
  });
  res.end(all);
}

function handler(state: TritonState) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    state.requests.push({ method: req.method!, url: req.url! });
    const path = new URL(req.url!, 'http://stub').pathname;
    const health = /^\/v2\/health\/(live|ready)$/.exec(path);
    const ready = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?\/ready$/.exec(path);
    const metadata = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?$/.exec(path);
    const inference = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?\/infer$/.exec(path);
    const stats = /^\/v2\/models\/([^/]+)\/stats$/.exec(path);
    const known = (model: string | undefined, version: string | undefined) => model === 'densenet' && (version ?? '1') === '1';
    if ((health || ready || metadata || path === '/v2' || stats) && req.method !== 'GET') sendError(res, 405, 'Method Not Allowed');
    else if (health) sendEmpty(res, (health[1] === 'live' ? state.live : state.ready) ? 200 : 400);
    else if (ready) {
      const key = ready[2] === undefined ? ready[1]! : `${ready[1]}/${ready[2]}`;
      if (state.readyModels.has(key)) sendEmpty(res, 200);
      else sendError(res, 400, 'Model version not ready');
    } else if (path === '/v2') sendJson(res, { name: 'triton', version: '2.59.0', extensions: EXTENSIONS });
    else if (path === '/v2/repository/index' && req.method === 'POST') {
      await readBody(req);
      sendJson(res, [
        { name: 'bert', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' },
        { name: 'densenet', version: '1', state: 'READY' },
      ]);
    } else if (stats && known(stats[1], undefined)) {
      sendJson(res, { model_stats: [{ name: 'densenet', version: '1', last_inference: 0, inference_count: 0, execution_count: 0 }] });
    } else if (metadata) {
      if (known(metadata[1], metadata[2])) sendJson(res, DENSENET);
      else sendError(res, 404, `Request for unknown model: '${metadata[1]}' is not found`, 'application/json');
    } else if (inference && req.method === 'POST') {
      if (known(inference[1], inference[2])) await infer(req, res, inference[2]);
      else sendError(res, 404, `Request for unknown model: '${inference[1]}' is not found`, 'application/json');
    } else sendError(res, 404, 'Not Found');
  };
}

export async function startTritonStub(state: TritonState = defaultTritonState()): Promise<TritonStub> {
  const server: Server = createServer(handler(state));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    state,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
