/**
 * The cassette core of the SDK (src/cassette/): the v1 format read and written exactly, the tensors
 * of recorded calls decoded with the SDK's codecs, and tensor-aware matching of requests against
 * recordings. Every cassette here is written by hand: no server.
 */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeBinaryBody, toBytes } from '../src/core/binary';
import {
  CassetteFormatError,
  bodyFromBytes,
  bytesOfBody,
  parseCassette,
  serializeCassette,
  serializeHeader,
  serializeInteraction,
  type Body,
  type Cassette,
  type Interaction,
  type JsonValue,
} from '../src/cassette/format';
import { matchRequest, type IncomingRequest } from '../src/cassette/match';
import { decodeRequestTensors, decodeResponseTensors, interactionTensors } from '../src/cassette/tensors';

const encoder = new TextEncoder();
const json = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value));

/** 784 pixels, each k/256: exact in float32, so a change of 0.5 is exactly 0.5. */
function pixels(seed: number): number[] {
  return Array.from({ length: 784 }, (_, i) => ((i * 7 + seed * 13) % 256) / 256);
}

const digitsRequest = (data: number[], shape = [1, 784], datatype = 'FP32', name = 'pixels') => ({
  inputs: [{ name, datatype, shape, data }],
});

/** A Triton binary infer request: the JSON header, then the FP32 bytes. */
function binaryDigitsRequest(data: Float32Array): { body: Uint8Array; headers: Record<string, string> } {
  const header = { inputs: [{ name: 'pixels', datatype: 'FP32', shape: [1, 784], parameters: { binary_data_size: data.byteLength } }] };
  const { body, headerLength } = encodeBinaryBody(header, [new Uint8Array(data.buffer, data.byteOffset, data.byteLength)]);
  return { body, headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(headerLength) } };
}

function interaction(seq: number, request: Partial<Interaction['request']>, response: Partial<Interaction['response']> = {}): Interaction {
  const path = request.path ?? '/v2/models/digits/infer';
  return {
    type: 'interaction',
    seq,
    recorded_at: '2026-12-07T20:00:00.000Z',
    latency_ms: 4.25,
    model: path.startsWith('/v2/models/') ? { name: path.split('/')[3]!, version: null, metadata: null } : null,
    request: {
      method: 'POST',
      path: '/v2/models/digits/infer',
      query: '',
      headers: { 'content-type': 'application/json' },
      body: null,
      ...request,
    },
    response: { status: 200, headers: { 'content-type': 'application/json' }, body: null, ...response },
  };
}

const header = {
  recorded_at: '2026-12-07T20:00:00.000Z',
  upstream: 'http://127.0.0.1:8080',
  server: { name: 'modelport', version: '0.1.0' },
};

describe('cassette format v1', () => {
  it('round-trips a header and interactions: JSON bodies, exact base64 binary bodies, empty bodies', () => {
    const floats = Float32Array.from([0.1, -0, 3.4028234663852886e38, Number.NaN, 1e-45, ...pixels(1).slice(0, 779)]);
    const binary = binaryDigitsRequest(floats);
    const outputHeader = {
      model_name: 'digits',
      outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [1, 2], parameters: { binary_data_size: 8 } }],
    };
    const response = encodeBinaryBody(outputHeader, [new Uint8Array(Float32Array.from([0.25, 0.75]).buffer)]);
    const recorded: Interaction[] = [
      interaction(
        1,
        { body: bodyFromBytes(json(digitsRequest([0.1, 1e-300, 2.5e-7])), {}) },
        { body: { json: { model_name: 'digits', outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [1, 1], data: [0.5] }] } } },
      ),
      interaction(
        2,
        { headers: binary.headers, body: bodyFromBytes(binary.body, binary.headers) },
        {
          headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(response.headerLength) },
          body: bodyFromBytes(response.body, { 'Inference-Header-Content-Length': String(response.headerLength) }),
        },
      ),
      interaction(3, { method: 'GET', path: '/v2/models/digits', headers: {} }, { body: { json: { name: 'digits', versions: ['1'] } } }),
    ];
    const text = serializeHeader(header) + recorded.map(serializeInteraction).join('');
    expect(text.split('\n')).toHaveLength(5); // 4 lines, each ending in a newline
    expect(text.startsWith('{"cassette":"modelport","version":1,"recorded_at":"2026-12-07T20:00:00.000Z"')).toBe(true);

    const cassette = parseCassette(text);
    expect(cassette.header).toEqual({ cassette: 'modelport', version: 1, ...header });
    expect(cassette.interactions).toEqual(recorded);
    expect(serializeCassette(cassette)).toBe(text); // read and written again, byte for byte
    expect(cassette.interactions[0]!.request.body).toEqual({ json: digitsRequest([0.1, 1e-300, 2.5e-7]) });
    expect(Object.keys(cassette.interactions[1]!.request.body!)).toEqual(['base64']);
    expect(bytesOfBody(cassette.interactions[1]!.request.body)).toEqual(binary.body);
    expect(bytesOfBody(cassette.interactions[1]!.response.body)).toEqual(response.body);

    // The binary body decodes to the very Float32Array that was sent, bit for bit (NaN and -0 included).
    const [input] = decodeRequestTensors(cassette.interactions[1]!.request).tensors;
    expect(input).toMatchObject({ name: 'pixels', datatype: 'FP32', shape: [1, 784] });
    expect(input!.data).toBeInstanceOf(Float32Array);
    expect(new Uint8Array((input!.data as Float32Array).buffer)).toEqual(new Uint8Array(floats.buffer));
    expect(Object.is((input!.data as Float32Array)[1], -0)).toBe(true);
    const { inputs, outputs } = interactionTensors(cassette.interactions[1]!);
    expect(inputs).toEqual([input]);
    expect(outputs).toEqual([{ name: 'probabilities', datatype: 'FP32', shape: [1, 2], data: Float32Array.from([0.25, 0.75]) }]);
    expect(() => decodeResponseTensors(cassette.interactions[2]!.response)).toThrow('the body has no "outputs" array');
    expect(decodeResponseTensors(cassette.interactions[0]!.response).tensors[0]!.data).toEqual(Float32Array.from([0.5]));
    expect(bytesOfBody(null)).toEqual(new Uint8Array(0));
  });

  it('stores a body as JSON only when JSON keeps it exactly', () => {
    expect(bodyFromBytes(json({ a: [1, 2.5] }), {})).toEqual({ json: { a: [1, 2.5] } });
    expect(bodyFromBytes(new Uint8Array(0), {})).toBeNull();
    expect(bodyFromBytes(null)).toBeNull();
    // Not JSON, not UTF-8, a binary tensor body: base64, exactly.
    expect(bodyFromBytes(encoder.encode('ready'), {})).toEqual({ base64: 'cmVhZHk=' });
    expect(bodyFromBytes(Uint8Array.from([0xff, 0x00, 0x7b]), {})).toEqual({ base64: '/wB7' });
    expect(bodyFromBytes(json({ a: 1 }), new Headers({ 'Inference-Header-Content-Length': '7' }))).toEqual({ base64: 'eyJhIjoxfQ==' });
    // An INT64 beyond 2^53 and a number that overflows float64 would change in JSON.parse: base64.
    const big = encoder.encode('{"data":[9007199254740993]}');
    expect(bodyFromBytes(big, {})).toEqual({ base64: btoa('{"data":[9007199254740993]}') });
    expect(bytesOfBody(bodyFromBytes(big, {}))).toEqual(big);
    expect(bodyFromBytes(encoder.encode('[1e400]'), {})).toEqual({ base64: btoa('[1e400]') });
    expect(bodyFromBytes(encoder.encode('[-0.0]'), {})).toEqual({ base64: btoa('[-0.0]') }); // JSON.stringify(-0) is "0"
    // A leading byte order mark is 3 bytes of the body: kept, so base64 (TextDecoder would drop it silently).
    const withBom = Uint8Array.from([0xef, 0xbb, 0xbf, ...encoder.encode('{"a":1}')]);
    expect(bytesOfBody(bodyFromBytes(withBom, {}))).toEqual(withBom);
    // Digits inside strings are not numbers, however long the string (its quotes are escaped in the JSON).
    expect(bodyFromBytes(encoder.encode('{"id":"9007199254740993"}'), {})).toEqual({ json: { id: '9007199254740993' } });
    const long = { text: `say "${'x'.repeat(20_000_000)}" 9007199254740993`, n: [1.5] };
    expect(bodyFromBytes(json(long), {})).toEqual({ json: long });
  });

  it('keeps a line one line: U+2028 and U+2029 in a string are escaped, and read back', () => {
    const text = 'a\u2028b\u2029c\nd';
    const line = serializeInteraction(
      interaction(1, { body: { json: { inputs: [{ name: 't', datatype: 'BYTES', shape: [1], data: [text] }] } } }),
    );
    expect(line.split(/[\n\u2028\u2029]/)).toEqual([line.slice(0, -1), '']);
    const [input] = decodeRequestTensors(parseCassette(serializeHeader(header) + line).interactions[0]!.request).tensors;
    expect(new TextDecoder().decode((input!.data as Uint8Array[])[0])).toBe(text);
  });

  it('never writes a header outside the recorded ones, nor credentials in the upstream URL', () => {
    const secretHeaders = {
      Authorization: 'Bearer sk-secret',
      'X-API-Key': 'sk-secret',
      Cookie: 'session=sk-secret',
      'Content-Type': 'application/json',
      Accept: 'application/json',
    };
    const line = serializeInteraction(
      interaction(1, { headers: secretHeaders }, { headers: { 'Set-Cookie': 'session=sk-secret', 'Content-Type': 'application/json' } }),
    );
    expect(line).not.toContain('sk-secret');
    const parsed = JSON.parse(line) as Interaction;
    expect(parsed.request.headers).toEqual({ accept: 'application/json', 'content-type': 'application/json' });
    expect(parsed.response.headers).toEqual({ 'content-type': 'application/json' });
    const head = serializeHeader({ ...header, upstream: 'https://user:sk-secret@models.example.com/base' });
    expect(head).not.toContain('sk-secret');
    expect(JSON.parse(head).upstream).toBe('https://models.example.com/base');
  });

  it('names the line of a malformed cassette', () => {
    const head = serializeHeader(header);
    const good = serializeInteraction(interaction(1, {}));
    const failure = (text: string): CassetteFormatError => {
      try {
        parseCassette(text);
      } catch (error) {
        expect(error).toBeInstanceOf(CassetteFormatError);
        return error as CassetteFormatError;
      }
      throw new Error('parsed');
    };
    expect(failure(`${head}${good}{"type":"interaction",\n`).message).toMatch(/^cassette line 3: not valid JSON \(/);
    expect(failure(`${head}${good}{"type":"interaction",\n`).line).toBe(3);
    expect(failure(head.replace('"version":1', '"version":2')).message).toBe(
      'cassette line 1: cassette version 2 is not supported (this modelport reads version 1)',
    );
    expect(failure(`{"type":"interaction"}\n`).message).toBe(
      'cassette line 1: the first line must be the header {"cassette":"modelport","version":1,...}',
    );
    expect(failure('\n\n').message).toBe('cassette line 1: the cassette is empty: the first line must be its header');
    expect(failure(`${head}\n${good.replace('"path":"/v2/models/digits/infer"', '"path":7')}`).message).toBe(
      'cassette line 3: request.path must be a string starting with "/"',
    );
    expect(failure(`${head}${good}${good}`).message).toBe('cassette line 3: seq 1 is already used on line 2');
    expect(failure(`${head}${good.replace('"body":null}}', '"body":{"base64":"a?b="}}}')}`).message).toBe(
      'cassette line 2: response.body must be null, {"json": <value>} or {"base64": "<base64 text>"}',
    );
    expect(failure(`${head}${head}`).message).toBe(
      'cassette line 2: expected an interaction ({"type":"interaction",...}); a cassette has one header, on line 1',
    );
    // Blank lines (a trailing newline, a hand edit) are fine; CRLF and a byte order mark too.
    expect(parseCassette(`\uFEFF${head}\n${good}\n`.replace(/\n/g, '\r\n')).interactions).toHaveLength(1);
  });
});

describe('matching requests to recordings', () => {
  const recordedBody = (value: unknown): Body => ({ json: value as JsonValue });
  const cassette: Cassette = {
    header: { cassette: 'modelport', version: 1, ...header },
    interactions: [
      interaction(1, { body: recordedBody(digitsRequest(pixels(1))) }),
      interaction(2, { body: recordedBody(digitsRequest(pixels(2))) }),
      interaction(3, { path: '/v2/models/iris/infer', body: recordedBody(digitsRequest([5.1, 3.5, 1.4, 0.2], [1, 4], 'FP32', 'x')) }),
      interaction(4, { method: 'GET', path: '/v2/models/digits', headers: {} }),
      interaction(5, { method: 'GET', path: '/v2/health/ready', headers: {} }),
      interaction(6, {
        path: '/v2/models/echo/infer',
        body: recordedBody({
          inputs: [
            { name: 'text', datatype: 'BYTES', shape: [2], data: ['hello', 'wörld'] },
            { name: 'ids', datatype: 'INT64', shape: [2], data: [250000, 7] },
          ],
        }),
      }),
    ],
  };
  const infer = (body: unknown, path = '/v2/models/digits/infer'): IncomingRequest => ({
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json', authorization: 'Bearer x' },
    body: json(body),
  });
  const seqOf = (result: ReturnType<typeof matchRequest>) => (result.outcome === 'unmatched' ? undefined : result.interaction.seq);

  it('matches the same request exactly, as JSON or as binary', () => {
    const exact = matchRequest(cassette, infer(digitsRequest(pixels(2))));
    expect(exact.outcome).toBe('matched');
    expect(seqOf(exact)).toBe(2);
    if (exact.outcome === 'matched') expect(exact.comparison.distance).toEqual({ structural: 0, maxDelta: 0, outside: 0 });
    const binary = binaryDigitsRequest(Float32Array.from(pixels(1)));
    expect(seqOf(matchRequest(cassette, { method: 'post', path: '/v2/models/digits/infer', ...binary }))).toBe(1);
  });

  it('matches inputs perturbed by 1e-7 (within the default rtol 1e-5, atol 1e-6)', () => {
    const result = matchRequest(cassette, infer(digitsRequest(pixels(1).map((v, i) => v + (i % 2 ? 1e-7 : -1e-7)))), { mode: 'strict' });
    expect(result.outcome).toBe('matched');
    expect(seqOf(result)).toBe(1);
    if (result.outcome === 'matched') expect(result.comparison.distance.maxDelta).toBeLessThan(2e-7);
  });

  it('refuses one pixel changed by 0.5 in strict mode, naming the closest recording, the input, max |Δ| and the element', () => {
    const changed = pixels(1);
    expect(changed[123]).toBe(0.4140625); // (123 * 7 + 13) % 256 / 256
    changed[123] = changed[123]! + 0.5;
    const result = matchRequest(cassette, infer(digitsRequest(changed)));
    expect(result.outcome).toBe('unmatched');
    if (result.outcome !== 'unmatched') return;
    expect(result.closest?.interaction.seq).toBe(1);
    expect(result.error).toBe(
      'no recording matches POST /v2/models/digits/infer (rtol 0.00001, atol 0.000001); the closest is seq 1 ' +
        "(model digits, POST /v2/models/digits/infer): input 'pixels': 1 of 784 elements outside tolerance, " +
        'max |Δ| 0.5 at element 123 [0, 123] (recorded 0.4140625, received 0.9140625)',
    );
  });

  it('answers with the closest recording in nearest mode and says how far it is', () => {
    const changed = pixels(2);
    changed[5] = 1;
    changed[600] = changed[600]! + 0.25;
    const result = matchRequest(cassette, infer(digitsRequest(changed)), { mode: 'nearest' });
    expect(result.outcome).toBe('nearest');
    if (result.outcome !== 'nearest') return;
    expect(result.interaction.seq).toBe(2);
    expect(result.comparison.distance).toEqual({ structural: 0, maxDelta: 1 - pixels(2)[5]!, outside: 2 });
    expect(result.description).toBe(
      "seq 2 (model digits, POST /v2/models/digits/infer): input 'pixels': 2 of 784 elements outside tolerance, " +
        'max |Δ| 0.761719 at element 5 [0, 5] (recorded 0.23828125, received 1)',
    );
    // Nearest never crosses to another path: another model's recording does not answer.
    const elsewhere = matchRequest(cassette, infer(digitsRequest(pixels(1)), '/v2/models/mnist/infer'), { mode: 'nearest' });
    expect(elsewhere.outcome === 'unmatched' && elsewhere.error).toBe(
      'no recording of POST /v2/models/mnist/infer; the cassette has POST /v2/models/digits/infer ×2, POST /v2/models/iris/infer ×1, ' +
        'GET /v2/models/digits ×1, GET /v2/health/ready ×1, POST /v2/models/echo/infer ×1',
    );
  });

  it('describes shape, datatype and name differences', () => {
    const shape = matchRequest(cassette, infer(digitsRequest(pixels(1).slice(0, 392), [1, 392])));
    expect(shape.outcome === 'unmatched' && shape.error).toContain(
      "the closest is seq 1 (model digits, POST /v2/models/digits/infer): input 'pixels' has shape [1, 392], recorded [1, 784]",
    );
    const datatype = matchRequest(cassette, infer(digitsRequest(pixels(2), [1, 784], 'FP64')));
    expect(datatype.outcome === 'unmatched' && datatype.error).toContain("input 'pixels' is FP64, recorded FP32");
    const name = matchRequest(cassette, infer(digitsRequest([5.1, 3.5, 1.4, 0.2], [1, 4], 'FP32', 'features'), '/v2/models/iris/infer'));
    expect(name.outcome === 'unmatched' && name.error).toContain(
      "the closest is seq 3 (model iris, POST /v2/models/iris/infer): input 'x' was recorded but not received; input 'features' was received but not recorded",
    );
  });

  it('compares BYTES and integers exactly, floats within rtol/atol', () => {
    const echo = (text: string[], ids: number[]) =>
      infer(
        {
          inputs: [
            { name: 'ids', datatype: 'INT64', shape: [2], data: ids },
            { name: 'text', datatype: 'BYTES', shape: [2], data: text },
          ],
        },
        '/v2/models/echo/infer',
      );
    expect(seqOf(matchRequest(cassette, echo(['hello', 'wörld'], [250000, 7])))).toBe(6);
    const text = matchRequest(cassette, echo(['hello', 'world'], [250000, 7]));
    expect(text.outcome === 'unmatched' && text.error).toContain(
      `input 'text': 1 of 2 elements differ, first at element 1 (recorded "wörld", received "world")`,
    );
    // 250001 is within rtol 1e-5 of 250000, but an id is not a measurement.
    const id = matchRequest(cassette, echo(['hello', 'wörld'], [250001, 7]));
    expect(id.outcome === 'unmatched' && id.error).toContain("input 'ids': 1 of 2 elements outside tolerance, max |Δ| 1 at element 0");

    const iris = (x: number[]) => infer(digitsRequest(x, [1, 4], 'FP32', 'x'), '/v2/models/iris/infer');
    expect(matchRequest(cassette, iris([5.1, 3.5, 1.4, 0.2001])).outcome).toBe('unmatched');
    expect(seqOf(matchRequest(cassette, iris([5.1, 3.5, 1.4, 0.2001]), { rtol: 1e-3 }))).toBe(3);
    expect(seqOf(matchRequest(cassette, iris([5.1, 3.5, 1.4, 0.2001]), { atol: 1e-3 }))).toBe(3);
  });

  it('compares BYTES as bytes, whether sent as JSON strings or binary', () => {
    const binaryText = (items: Uint8Array[]): IncomingRequest => {
      const header = { inputs: [{ name: 'text', datatype: 'BYTES', shape: [items.length], parameters: {} as Record<string, number> }] };
      const data = toBytes('BYTES', items);
      header.inputs[0]!.parameters.binary_data_size = data.byteLength;
      const { body, headerLength } = encodeBinaryBody(header, [data]);
      return { method: 'POST', path: '/v2/models/text/infer', headers: { 'inference-header-content-length': String(headerLength) }, body };
    };
    const recorded = (request: IncomingRequest, seq: number): Interaction => {
      const headers = request.headers as Record<string, string>;
      return interaction(seq, { path: request.path, headers, body: bodyFromBytes(request.body as Uint8Array, headers) });
    };
    const texts: Cassette = {
      header: cassette.header,
      interactions: [recorded(binaryText([encoder.encode('héllo')]), 1), recorded(binaryText([Uint8Array.from([0xff])]), 2)],
    };
    const asJson = infer({ inputs: [{ name: 'text', datatype: 'BYTES', shape: [1], data: ['héllo'] }] }, '/v2/models/text/infer');
    expect(seqOf(matchRequest(texts, asJson))).toBe(1);
    expect(seqOf(matchRequest(texts, binaryText([Uint8Array.from([0xff])])))).toBe(2);
    // 0xFE and 0xFF both read as U+FFFD in text; as bytes they differ, and the message shows them in hex.
    const other = matchRequest({ ...texts, interactions: texts.interactions.slice(1) }, binaryText([Uint8Array.from([0xfe])]));
    expect(other.outcome === 'unmatched' && other.error).toContain(
      "seq 2 (model text, POST /v2/models/text/infer): input 'text': 1 of 1 elements differ, first at element 0 (recorded bytes ff, received bytes fe)",
    );
  });

  it('matches metadata, ready and health GETs by path', () => {
    expect(seqOf(matchRequest(cassette, { method: 'GET', path: '/v2/health/ready' }))).toBe(5);
    expect(
      seqOf(matchRequest(cassette, { method: 'GET', path: '/v2/models/digits', headers: new Headers({ accept: 'application/json' }) })),
    ).toBe(4);
    const other = matchRequest(cassette, { method: 'GET', path: '/v2/models/iris' }, { mode: 'nearest' });
    expect(other.outcome).toBe('unmatched');
    const query = matchRequest(cassette, { method: 'GET', path: '/v2/health/ready', query: 'verbose=1' });
    expect(query.outcome === 'unmatched' && query.error).toContain("seq 5 (GET /v2/health/ready): recorded query '', received 'verbose=1'");
  });

  it('says so when the cassette is empty', () => {
    const empty: Cassette = { header: cassette.header, interactions: [] };
    const result = matchRequest(empty, { method: 'GET', path: '/v2/health/live' });
    expect(result).toEqual({
      outcome: 'unmatched',
      closest: undefined,
      error: 'no recording answers GET /v2/health/live: the cassette has no interactions',
    });
  });
});

describe('browser safety', () => {
  it('src/cassette/ imports no node: module and uses no Buffer (replay runs in a service worker)', () => {
    const folder = path.join(import.meta.dirname, '../src/cassette');
    for (const file of readdirSync(folder)) {
      const source = readFileSync(path.join(folder, file), 'utf8');
      expect(source, file).not.toMatch(/from ['"]node:|require\(|\bBuffer\.\w/);
    }
  });
});
