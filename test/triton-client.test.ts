/**
 * Issue #19 items 2, 6 and 7: Triton's own Python clients, byte for byte. The requests in
 * fixtures/triton-requests/ were recorded from tritonclient.http (geventhttpclient: JSON and
 * binary bodies with no Content-Type) and tritonclient.http.aio (aiohttp: JSON and binary bodies
 * both as application/octet-stream) by make_triton_requests.py, which runs the clients themselves.
 * Each recording is written unchanged to a socket of a real server with the bundled models, and
 * the answers are compared with a plain JSON inference of the same inputs.
 */
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockServer, type RunningMockServer } from '../mock-server/index';

const FIXTURES = new URL('./fixtures/triton-requests/', import.meta.url);
const MAX_JSON_BODY_BYTES = 64 * 1024;

interface Recording {
  file: string;
  client: string;
  model: 'iris' | 'digits';
  call: string;
}

interface RawAnswer {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
}

interface Tensor {
  name: string;
  datatype: string;
  shape: number[];
  data: (number | string)[];
}

const recordings: Recording[] = JSON.parse(readFileSync(new URL('manifest.json', FIXTURES), 'utf8')).requests;

let server: RunningMockServer;
beforeAll(async () => {
  server = await startMockServer({ auth: false, maxJsonBodyBytes: MAX_JSON_BODY_BYTES });
});
afterAll(() => server?.close());

/** A recording's bytes, and its headers and body as the client sent them. */
function recording(file: string): { bytes: Buffer; headers: Map<string, string>; body: Buffer } {
  const bytes = readFileSync(new URL(file, FIXTURES));
  const { headers, body } = splitMessage(bytes);
  return { bytes, headers, body };
}

function splitMessage(bytes: Buffer): { firstLine: string; headers: Map<string, string>; body: Buffer } {
  const end = bytes.indexOf('\r\n\r\n');
  const [firstLine, ...lines] = bytes.subarray(0, end).toString('latin1').split('\r\n');
  const headers = new Map(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  return { firstLine: firstLine!, headers, body: bytes.subarray(end + 4) };
}

/**
 * Writes `bytes` to the server's socket as they are (no client adds or changes a header) and reads
 * one answer, framed by its Content-Length.
 */
function sendRaw(bytes: Buffer): Promise<RawAnswer> {
  const { port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    let received = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      const end = received.indexOf('\r\n\r\n');
      if (end < 0) return;
      const { firstLine, headers, body } = splitMessage(received);
      if (body.byteLength < Number(headers.get('content-length'))) return;
      socket.destroy();
      resolve({ status: Number(firstLine.split(' ')[1]), headers, body });
    });
    socket.on('error', reject);
    socket.write(bytes);
  });
}

/** The recording with one header's value replaced (undefined: removed), and Content-Length kept true. */
function withHeader(file: string, name: string, value: string | undefined, body?: Buffer): Buffer {
  const original = recording(file);
  const headers = new Map(original.headers);
  if (value === undefined) headers.delete(name);
  else headers.set(name, value);
  const sent = body ?? original.body;
  headers.set('content-length', String(sent.byteLength));
  const firstLine = original.bytes.subarray(0, original.bytes.indexOf('\r\n')).toString('latin1');
  const head = [firstLine, ...[...headers].map(([n, v]) => `${n}: ${v}`)].join('\r\n');
  return Buffer.concat([Buffer.from(`${head}\r\n\r\n`, 'latin1'), sent]);
}

/** The input tensor a recording carries, whether in JSON or in binary after its JSON header. */
function sentInput(file: string): { name: string; shape: number[]; values: number[] } {
  const { headers, body } = recording(file);
  const headerLength = headers.get('inference-header-content-length');
  const request = JSON.parse(body.subarray(0, headerLength === undefined ? body.byteLength : Number(headerLength)).toString('utf8'));
  const input = request.inputs[0];
  if (input.data) return { name: input.name, shape: input.shape, values: input.data };
  const bytes = body.subarray(Number(headerLength));
  const floats = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return { name: input.name, shape: input.shape, values: Array.from(floats) };
}

/** The model's probabilities for the recording's input, through an ordinary JSON inference. */
async function reference(model: string, file: string): Promise<number[]> {
  const { name, shape, values } = sentInput(file);
  const response = await fetch(`${server.url}/v2/models/${model}/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: [{ name, shape, datatype: 'FP32', data: values }] }),
  });
  expect(response.status).toBe(200);
  return (await response.json()).outputs[0].data;
}

/** The outputs of an answer, JSON or binary (binary outputs decoded into `data`). */
function outputsOf(answer: RawAnswer): Tensor[] {
  const headerLength = answer.headers.get('inference-header-content-length');
  if (headerLength === undefined) {
    expect(answer.headers.get('content-type')).toBe('application/json');
    return JSON.parse(answer.body.toString('utf8')).outputs;
  }
  expect(answer.headers.get('content-type')).toBe('application/octet-stream');
  const header = JSON.parse(answer.body.subarray(0, Number(headerLength)).toString('utf8'));
  let offset = Number(headerLength);
  return header.outputs.map((output: Tensor & { parameters?: { binary_data_size?: number } }) => {
    const size = output.parameters?.binary_data_size;
    if (size === undefined) return output;
    const bytes = answer.body.subarray(offset, offset + size);
    offset += size;
    return { ...output, data: output.datatype === 'BYTES' ? lengthPrefixedStrings(bytes) : Array.from(floats(bytes)) };
  });
}

function floats(bytes: Buffer): Float32Array {
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** Triton's BYTES serialisation: each element a 4-byte little-endian length, then its bytes. */
function lengthPrefixedStrings(bytes: Buffer): string[] {
  const out: string[] = [];
  for (let at = 0; at < bytes.byteLength; ) {
    const length = bytes.readUInt32LE(at);
    out.push(bytes.subarray(at + 4, at + 4 + length).toString('utf8'));
    at += 4 + length;
  }
  return out;
}

/** Triton's classification strings for one row of probabilities: "score:index" or "score:index:label", best first. */
function expectClassification(strings: (number | string)[], probabilities: number[], k: number): void {
  const best = probabilities
    .map((score, index) => ({ score, index }))
    .sort((a, b) => b.score - a.score)
    .slice(0, k);
  expect(strings).toHaveLength(k);
  strings.forEach((entry, i) => {
    const [score, index, ...label] = String(entry).split(':');
    expect(Number(index)).toBe(best[i]!.index);
    expect(Number(score)).toBe(best[i]!.score);
    expect(label.length).toBeLessThanOrEqual(1);
  });
}

describe("Triton's Python clients, byte for byte", () => {
  it('recorded what each client really sends: no Content-Type from geventhttpclient, octet-stream from aiohttp, the header only with binary', () => {
    const types = recordings.map(({ file }) => [file, recording(file).headers.get('content-type') ?? null]);
    for (const [file, type] of types) expect(type, file!).toBe(file!.startsWith('sync-') ? null : 'application/octet-stream');
    const binary = recordings.filter(({ file }) => recording(file).headers.has('inference-header-content-length')).map(({ file }) => file);
    expect(binary.sort()).toEqual([
      'aio-binary-classification-digits.http',
      'aio-binary-iris.http',
      'aio-shared-headers-binary-iris.http',
      'aio-shared-headers-json-classification-digits.http',
      'sync-binary-classification-digits.http',
      'sync-binary-iris.http',
    ]);
  });

  const infers = recordings.filter(({ file }) => !file.includes('shared-headers-json') && !file.includes('gzip'));
  it.each(infers.map((r) => [r.file, r]))('%s is answered as Triton would', async (file, { model, call }) => {
    const answer = await sendRaw(recording(file).bytes);
    expect(answer.status, answer.body.toString('utf8')).toBe(200);
    const expected = await reference(model, file);
    const rows = sentInput(file).shape[0]!;
    const classes = model === 'iris' ? 3 : 10;
    const [output] = outputsOf(answer);
    // Binary outputs were asked for by binary_data_output (no outputs named) or by the output's binary_data.
    expect(answer.headers.has('inference-header-content-length')).toBe(/binary output|binary_data_output|in binary/.test(call));
    if (call.includes('classification')) {
      expect(output).toMatchObject({ name: 'probabilities', datatype: 'BYTES', shape: [rows, 3] });
      expectClassification(output!.data, expected, 3);
      expect(String(output!.data[0])).toMatch(/^0\.9\d*:7(:7)?$/); // the mnist package's first 7, read as a 7
    } else {
      expect(output).toMatchObject({ name: 'probabilities', datatype: 'FP32', shape: [rows, classes] });
      expect(output!.data).toEqual(expected);
    }
  });

  it("a headers dict reused after a binary call carries that call's Inference-Header-Content-Length: refused, saying so (Triton refuses it too)", async () => {
    const { headers, body } = recording('aio-shared-headers-json-classification-digits.http');
    expect(headers.get('inference-header-content-length')).toBe('142'); // the binary iris call's header length
    expect(body.subarray(0, 142).toString('utf8')).toMatch(/"data":\[[\d.,]+$/); // cut inside the JSON's data
    const answer = await sendRaw(recording('aio-shared-headers-json-classification-digits.http').bytes);
    expect(answer.status).toBe(400);
    const error = JSON.parse(answer.body.toString('utf8'));
    expect(error.code).toBe('invalid_binary_header');
    expect(error.error).toContain(
      `Inference-Header-Content-Length says it is the first 142 bytes of the ${body.byteLength.toLocaleString('en-US')}`,
    );
    expect(error.error).toContain('a JSON request sends no such header');
    // The same bytes without the stale header are the JSON request they are.
    const fixed = await sendRaw(
      withHeader('aio-shared-headers-json-classification-digits.http', 'inference-header-content-length', undefined),
    );
    expect(fixed.status).toBe(200);
    expectClassification(outputsOf(fixed)[0]!.data, await reference('digits', 'aio-json-classification-digits.http'), 3);
  });
});

describe('the binary header decides, not the Content-Type', () => {
  it.each([['application/json'], ['text/plain'], ['image/png']])('a binary body sent as %s with the header is binary', async (type) => {
    const answer = await sendRaw(withHeader('sync-binary-iris.http', 'content-type', type));
    expect(answer.status).toBe(200);
    expect(outputsOf(answer)[0]!.data).toEqual(await reference('iris', 'sync-binary-iris.http'));
  });

  it.each([['application/json'], ['text/csv'], [undefined]])('a JSON body sent as %s without the header is JSON', async (type) => {
    const answer = await sendRaw(withHeader('aio-json-iris.http', 'content-type', type));
    expect(answer.status).toBe(200);
    expect(outputsOf(answer)[0]!.data).toEqual(await reference('iris', 'aio-json-iris.http'));
  });

  it('a binary body without the header is read as JSON, and the refusal says binary needs the header', async () => {
    const answer = await sendRaw(withHeader('aio-binary-iris.http', 'inference-header-content-length', undefined));
    expect(answer.status).toBe(400);
    const error = JSON.parse(answer.body.toString('utf8'));
    expect(['malformed_json', 'malformed_body']).toContain(error.code);
    expect(error.error).toContain('an application/octet-stream body without the Inference-Header-Content-Length header is read as JSON');
  });

  it('a JSON body sent as application/octet-stream has the JSON limit, not the binary one', async () => {
    const { body } = recording('aio-json-iris.http');
    const request = JSON.parse(body.toString('utf8'));
    const padded = Buffer.from(JSON.stringify({ ...request, id: 'x'.repeat(MAX_JSON_BODY_BYTES) }));
    const answer = await sendRaw(withHeader('aio-json-iris.http', 'content-type', 'application/octet-stream', padded));
    expect(answer.status).toBe(413);
    const error = JSON.parse(answer.body.toString('utf8'));
    expect(error.code).toBe('payload_too_large');
    expect(error.error).toContain(`the limit for JSON (--max-json-body-bytes)`);
  });

  it("a binary body's JSON header longer than a JSON body may be is refused (413) before the body is read", async () => {
    const answer = await sendRaw(withHeader('sync-binary-iris.http', 'inference-header-content-length', String(MAX_JSON_BODY_BYTES + 1)));
    expect(answer.status).toBe(413);
    const error = JSON.parse(answer.body.toString('utf8'));
    expect(error).toMatchObject({ code: 'payload_too_large' });
    expect(error.error).toBe(
      `the JSON header of the binary body is 65,537 bytes (Inference-Header-Content-Length); the limit for JSON is 65,536 bytes (--max-json-body-bytes)`,
    );
  });
});

describe('Inference-Header-Content-Length is decimal digits', () => {
  // 142 is the recorded header's true length: 0x8e in hex.
  it.each([['0x8e'], ['142abc'], ['1.42e2'], ['+142'], ['-142'], ['']])(
    "'%s' is refused (Triton's std::stoi would read 0, 142, 1, ...)",
    async (value) => {
      const answer = await sendRaw(withHeader('sync-binary-iris.http', 'inference-header-content-length', value));
      expect(answer.status).toBe(400);
      const error = JSON.parse(answer.body.toString('utf8'));
      expect(error).toMatchObject({
        code: 'invalid_binary_header',
        details: [{ path: 'header/inference-header-content-length', message: 'must be decimal digits' }],
      });
      expect(error.error).toBe(
        `Inference-Header-Content-Length '${value}' is not a byte count: send the JSON header's length in decimal digits`,
      );
    },
  );

  it("0, Triton's raw binary request, is refused by name", async () => {
    const answer = await sendRaw(withHeader('sync-binary-iris.http', 'inference-header-content-length', '0'));
    expect(answer.status).toBe(400);
    const error = JSON.parse(answer.body.toString('utf8'));
    expect(error.code).toBe('invalid_binary_header');
    expect(error.error).toContain("Inference-Header-Content-Length 0 (Triton's raw binary request");
  });

  it('leading zeros and surrounding spaces are still the number', async () => {
    expect((await sendRaw(withHeader('sync-binary-iris.http', 'inference-header-content-length', '00142'))).status).toBe(200);
    expect((await sendRaw(withHeader('sync-binary-iris.http', 'inference-header-content-length', '  142 '))).status).toBe(200);
  });
});

describe('compressed bodies are refused unread', () => {
  it.each([['sync-gzip-json-iris.http'], ['aio-gzip-json-iris.http']])(
    "%s (tritonclient's request_compression_algorithm='gzip') is 415 unsupported_encoding",
    async (file) => {
      expect(recording(file).headers.get('content-encoding')).toBe('gzip');
      const answer = await sendRaw(recording(file).bytes);
      expect(answer.status).toBe(415);
      expect(answer.headers.get('accept-encoding')).toBe('identity');
      const error = JSON.parse(answer.body.toString('utf8'));
      expect(error).toMatchObject({ code: 'unsupported_encoding', status: 415 });
      expect(error.error).toBe(
        "the request body's Content-Encoding 'gzip' is not supported: the server decodes no compression (send it uncompressed)",
      );
    },
  );

  it('Transfer-Encoding: gzip, chunked is 415 unsupported_encoding', async () => {
    const json = recording('sync-json-iris.http').body;
    const gzipped = gzipSync(json);
    const chunked = Buffer.concat([Buffer.from(`${gzipped.byteLength.toString(16)}\r\n`), gzipped, Buffer.from('\r\n0\r\n\r\n')]);
    const head =
      'POST /v2/models/iris/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: gzip, chunked\r\n\r\n';
    const answer = await sendRaw(Buffer.concat([Buffer.from(head), chunked]));
    expect(answer.status).toBe(415);
    const error = JSON.parse(answer.body.toString('utf8'));
    expect(error).toMatchObject({ code: 'unsupported_encoding', details: [{ path: 'header/transfer-encoding' }] });
    expect(error.error).toBe(
      "the request body's Transfer-Encoding 'gzip, chunked' is not supported: the server decodes no compression (only chunked is read)",
    );
  });

  it.each([['identity'], ['']])('Content-Encoding: %s is an uncompressed body', async (value) => {
    const answer = await sendRaw(withHeader('sync-json-iris.http', 'content-encoding', value));
    expect(answer.status).toBe(200);
  });
});

describe('server metadata', () => {
  it('lists classification among the extensions (an output asks for it with parameters.classification)', async () => {
    const metadata = await (await fetch(`${server.url}/v2`)).json();
    expect(metadata.extensions).toEqual(['binary_tensor_data', 'classification', 'model_repository', 'statistics']);
  });
});
