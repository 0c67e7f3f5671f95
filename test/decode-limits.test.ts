/**
 * What one request may make the server decode and keep (issue #18 items 5, 6, 7 and the journal of
 * 11), on a server with small limits so every refusal is cheap to provoke: each names the input or
 * the line, the limit and the flag that sets it. The full-size attacks (40 MB CSV, 60 MB bodies, a
 * 16384² PNG, 1,000 journaled bodies) are in test/attacks/decode.attack.test.ts, with budgets.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockServer, type RunningMockServer } from '../mock-server/index';
import { imageSize } from '../mock-server/runtime/image-size';
import { boundedJson } from '../mock-server/test-controls/bounded-json';
import { Journal, MAX_BODY_CHARS } from '../mock-server/test-controls/journal';
import { pngOf } from './helpers/images';

const LIMITS = {
  maxJsonBodyBytes: 200_000,
  maxInputElements: 1_000,
  maxInputStrings: 10,
  maxImagePixels: 64 * 64,
  maxDatasetRows: 5,
  maxDatasetElements: 20,
  maxJournalBytes: 40_000,
};

let server: RunningMockServer;
beforeAll(async () => {
  server = await startMockServer({ dataDir: mkdtempSync(path.join(os.tmpdir(), 'modelport-decode-limits-')), ...LIMITS });
});
afterAll(() => server?.close());

async function post(
  pathname: string,
  body: string | Uint8Array<ArrayBuffer>,
  headers: Record<string, string> = { 'content-type': 'application/json' },
) {
  const response = await fetch(new URL(pathname, server.url), {
    method: 'POST',
    headers: { authorization: `Bearer ${server.adminKey}`, ...headers },
    body,
  });
  return { status: response.status, body: (await response.json()) as any };
}

function binaryInfer(model: string, inputs: object[], data: Uint8Array<ArrayBuffer>) {
  const header = new TextEncoder().encode(JSON.stringify({ inputs }));
  const body = new Uint8Array(header.length + data.length);
  body.set(header);
  body.set(data, header.length);
  return post(`/v2/models/${model}/infer`, body, {
    'content-type': 'application/octet-stream',
    'inference-header-content-length': String(header.length),
  });
}

describe('inference inputs are checked on what they declare, before their data is decoded', () => {
  it('a BYTES input to an FP32 model is 400 datatype_mismatch, whatever its data', async () => {
    const data = Array.from({ length: 20_000 }, () => 'a'); // over maxInputStrings too: the datatype is checked first
    const response = await post(
      '/v2/models/iris/infer',
      JSON.stringify({ inputs: [{ name: 'features', datatype: 'BYTES', shape: [20_000], data }] }),
    );
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({
      code: 'datatype_mismatch',
      error: "input 'features': expected datatype FP32, received BYTES",
      details: [{ path: '/inputs/0/datatype', message: 'expected FP32, received BYTES' }],
    });
  });

  it('a BOOL binary input to an FP32 model is 400 datatype_mismatch before its bytes are read', async () => {
    const response = await binaryInfer(
      'iris',
      [{ name: 'features', datatype: 'BOOL', shape: [5000], parameters: { binary_data_size: 5000 } }],
      new Uint8Array(5000),
    );
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ code: 'datatype_mismatch', error: "input 'features': expected datatype FP32, received BOOL" });
  });

  it('a shape that does not fit the model is 400 shape_mismatch before the data is counted', async () => {
    const response = await post(
      '/v2/models/iris/infer',
      JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [2, 5], data: [1, 2, 3] }] }),
    );
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ code: 'shape_mismatch', error: "input 'features': expected shape [-1,4], received [2,5]" });
  });

  it('more elements than --max-input-elements is 413 input_too_large, in JSON and in binary', async () => {
    const json = await post(
      '/v2/models/iris/infer',
      JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [251, 4], data: Array(1004).fill(1) }] }),
    );
    expect(json.status).toBe(413);
    expect(json.body).toMatchObject({
      code: 'input_too_large',
      error: "input 'features' has 1,004 elements; the limit is 1,000 per input (--max-input-elements)",
      details: [{ path: '/inputs/0/shape', message: 'holds 1004 elements, more than the limit of 1000' }],
    });
    // A declared shape far beyond the data: refused on the declaration, nothing is allocated for it.
    const binary = await binaryInfer(
      'iris',
      [{ name: 'features', datatype: 'FP32', shape: [1_000_000_000, 4], parameters: { binary_data_size: 16 } }],
      new Uint8Array(16),
    );
    expect(binary.status).toBe(413);
    expect(binary.body.error).toBe("input 'features' has 4,000,000,000 elements; the limit is 1,000 per input (--max-input-elements)");
    const within = await post(
      '/v2/models/iris/infer',
      JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [250, 4], data: Array(1000).fill(1) }] }),
    );
    expect(within.status).toBe(200);
  });

  it('images: more than --max-input-strings of them, or a batch whose pixels pass --max-input-elements, is 413', async () => {
    const png = Buffer.from(pngOf(28, 28)).toString('base64');
    const many = await post(
      '/v2/models/digits/infer',
      JSON.stringify({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [11], data: Array(11).fill(png) }] }),
    );
    expect(many.status).toBe(413);
    expect(many.body).toMatchObject({
      code: 'input_too_large',
      error: "input 'image' has 11 images; the limit is 10 per input (--max-input-strings)",
    });
    // Two 28×28×1 images become 1,568 FP32 elements, over the 1,000 allowed.
    const two = await post(
      '/v2/models/digits/infer',
      JSON.stringify({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [2], data: [png, png] }] }),
    );
    expect(two.status).toBe(413);
    expect(two.body.error).toBe("input 'image' has 1,568 elements once decoded; the limit is 1,000 per input (--max-input-elements)");
  });
});

describe('encoded images are sized from their header before they are decoded', () => {
  it('a PNG over --max-image-pixels is 413 input_too_large naming its size; one within is decoded', async () => {
    const big = Buffer.from(pngOf(65, 64)).toString('base64');
    const refused = await post(
      '/v2/models/digits/infer',
      JSON.stringify({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [big] }] }),
    );
    expect(refused.status).toBe(413);
    expect(refused.body).toMatchObject({
      code: 'input_too_large',
      error: "input 'image': element 0 is a 65×64 PNG (4,160 pixels); the limit is 4,096 pixels per image (--max-image-pixels)",
      details: [{ path: '/inputs/0/data', message: 'element 0 has 4160 pixels, more than the limit of 4096' }],
    });
    const fits = Buffer.from(pngOf(64, 64)).toString('base64');
    const answered = await post(
      '/v2/models/digits/infer',
      JSON.stringify({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [fits] }] }),
    );
    expect(answered.status).toBe(200);
    expect(answered.body.outputs[0].shape).toEqual([1, 10]);
  });

  it('bytes that are no image are 400 invalid_image before TensorFlow sees them', async () => {
    const response = await post(
      '/v2/models/digits/infer',
      JSON.stringify({
        inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [Buffer.from('not an image').toString('base64')] }],
      }),
    );
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ code: 'invalid_image', error: "input 'image': element 0 is not a PNG, JPEG, GIF or BMP image" });
  });

  it('reads PNG, JPEG, GIF (counting frames) and BMP headers', () => {
    expect(imageSize(pngOf(300, 200))).toEqual({ format: 'PNG', width: 300, height: 200, frames: 1 });
    // SOI, an APP0 segment of 16 bytes, then SOF0: length 17, precision 8, height 3000, width 4000.
    const jpeg = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, ...Array(14).fill(0), 0xff, 0xc0, 0, 17, 8, 0x0b, 0xb8, 0x0f, 0xa0, 3]);
    expect(imageSize(jpeg)).toEqual({ format: 'JPEG', width: 4000, height: 3000, frames: 1 });
    expect(imageSize(gifOf(300, 200, 40))).toEqual({ format: 'GIF', width: 300, height: 200, frames: 40 });
    const bmp = new Uint8Array(54);
    bmp.set([0x42, 0x4d]);
    new DataView(bmp.buffer).setInt32(18, 5000, true);
    new DataView(bmp.buffer).setInt32(22, -7000, true); // top-down
    expect(imageSize(bmp)).toEqual({ format: 'BMP', width: 5000, height: 7000, frames: 1 });
    expect(imageSize(new TextEncoder().encode('GIF8'))).toBeUndefined();
  });

  it('a GIF counts every frame (TensorFlow decodes them all)', async () => {
    const gif = Buffer.from(gifOf(10, 10, 50)).toString('base64');
    const response = await post(
      '/v2/models/digits/infer',
      JSON.stringify({ inputs: [{ name: 'image', datatype: 'BYTES', shape: [1], data: [gif] }] }),
    );
    expect(response.status).toBe(413);
    expect(response.body.error).toBe(
      "input 'image': element 0 is a 10×10 GIF in 50 frames (5,000 pixels); the limit is 4,096 pixels per image (--max-image-pixels)",
    );
  });
});

describe('dataset uploads are read within their limits', () => {
  const csv = (rows: number, width = 1) => Array.from({ length: rows }, (_, i) => `${Array(width).fill(i).join(',')},a`).join('\n');

  it('more records than --max-dataset-rows is 413 dataset_too_large', async () => {
    const response = await post('/v1/datasets?name=rows', csv(6), { 'content-type': 'text/csv' });
    expect(response.status).toBe(413);
    expect(response.body).toMatchObject({
      code: 'dataset_too_large',
      error: 'the dataset has more than 5 records; the limit is 5 (--max-dataset-rows)',
    });
    expect((await post('/v1/datasets?name=rows', csv(5), { 'content-type': 'text/csv' })).status).toBe(201);
  });

  it('more numbers than --max-dataset-elements is 413, in CSV and JSON lines', async () => {
    const wide = await post('/v1/datasets?name=wide', csv(3, 7), { 'content-type': 'text/csv' });
    expect(wide.status).toBe(413);
    expect(wide.body.error).toBe(
      'the dataset holds more than 20 numbers (3 records of 7 elements); the limit is 20 (--max-dataset-elements)',
    );
    const lines = `${JSON.stringify({ tensor: Array(21).fill(1), label: 'a' })}\n`;
    const jsonl = await post('/v1/datasets?name=wide', lines, { 'content-type': 'application/x-ndjson' });
    expect(jsonl.status).toBe(413);
    expect(jsonl.body.error).toBe(
      'the dataset holds more than 20 numbers (1 records of 21 elements); the limit is 20 (--max-dataset-elements)',
    );
  });

  it('a field longer than 256 characters is 413; the records read keep their line numbers and labels', async () => {
    const long = await post('/v1/datasets?name=long', `1,${'b'.repeat(300)}\n`, { 'content-type': 'text/csv' });
    expect(long.status).toBe(413);
    expect(long.body).toMatchObject({
      code: 'dataset_too_large',
      error: 'line 1 column 2 is 300 characters long; the limit is 256 characters per field',
    });
    const created = await post('/v1/datasets?name=mixed', 'x,label\n\n1,b\r\n2,a\n3,b\n', { 'content-type': 'text/csv' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ samples: 3, labels: ['a', 'b'], class_counts: [1, 2], shape: [1] });
  });
});

describe('the request journal is bounded in bytes', () => {
  it('keeps a long body as its start, measured without stringifying it whole, and drops the oldest entries past its budget', async () => {
    server.controls.clearRequests();
    const data = Array(24_000).fill(1.5); // ~96 KB of JSON
    for (let i = 0; i < 30; i++) {
      await post('/v2/models/iris/infer', JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [6000, 4], data }] }));
    }
    const entries = server.controls.requests({ operation: 'modelInfer' });
    const newest = entries.at(-1)!;
    expect(newest.body).toEqual({
      truncated: true,
      bytes: expect.any(Number),
      start: expect.stringMatching(/^\{"inputs":\[\{"name":"features"/),
    });
    expect((newest.body as { bytes: number }).bytes).toBeGreaterThan(90_000);
    expect((newest.body as { start: string }).start).toHaveLength(1024);
    // 30 entries of ~1.6 KB pass the 40,000-byte budget: the oldest went, the newest stayed.
    expect(entries.length).toBeLessThan(30);
    expect(JSON.stringify(entries).length).toBeLessThanOrEqual(LIMITS.maxJournalBytes);
  });

  it('a short body is kept whole; the byte budget holds for 10,000 entries', () => {
    const journal = new Journal({ maxBytes: 1_000_000 });
    const headers = { forEach: (f: (value: string, name: string) => void) => f('application/json', 'content-type'), get: () => null };
    for (let i = 0; i < 10_000; i++) {
      journal.record({
        request_id: String(i),
        time: '',
        method: 'POST',
        path: '/x',
        status: 200,
        duration_ms: 1,
        headers,
        body: { i, text: 'x'.repeat(500) },
      });
    }
    expect(journal.size).toBeLessThanOrEqual(1_000_000);
    const kept = journal.list({});
    expect(kept.at(-1)!.body).toEqual({ i: 9999, text: 'x'.repeat(500) });
    expect(kept.length).toBeGreaterThan(1000);
    expect(kept.length).toBeLessThan(10_000);
    expect(kept[0]!.request_id).toBe(String(10_000 - kept.length));
  });

  it('boundedJson writes JSON.stringify text, and stops soon past its bound', () => {
    const value = { a: [1, 'two', null, true, { b: 'é"\n' }], c: undefined, d: 2.5 };
    expect(boundedJson(value, 1000)).toEqual({ text: JSON.stringify(value), complete: true });
    const huge = { data: Array(5_000_000).fill(1), s: 'x'.repeat(10_000_000) };
    const started = performance.now();
    const { text, complete } = boundedJson(huge, MAX_BODY_CHARS);
    expect(performance.now() - started).toBeLessThan(50);
    expect(complete).toBe(false);
    expect(text).toHaveLength(MAX_BODY_CHARS);
    expect(boundedJson({ s: 'y'.repeat(20_000) }, 100).text).toBe(`{"s":"${'y'.repeat(94)}`);
  });
});

describe('JSON bodies have their own limit', () => {
  it('a JSON body over --max-json-body-bytes is 413 payload_too_large naming the flag; binary bodies have the general limit', async () => {
    const data = Array(120_000).fill(1.5); // ~480 KB of JSON
    const response = await post(
      '/v2/models/iris/infer',
      JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [30_000, 4], data }] }),
    );
    expect(response.status).toBe(413);
    expect(response.body).toMatchObject({ code: 'payload_too_large' });
    expect(response.body.error).toMatch(/^the JSON body exceeds 200,000 bytes, the limit for JSON \(--max-json-body-bytes\)/);
    // The same count of elements in binary is over the element limit, not the body limit.
    const binary = await binaryInfer(
      'iris',
      [{ name: 'features', datatype: 'FP32', shape: [15_000, 4], parameters: { binary_data_size: 240_000 } }],
      new Uint8Array(240_000),
    );
    expect(binary.body.code).toBe('input_too_large');
  });
});

/** A GIF of `frames` empty frames (no colour table; each frame's LZW data is one empty sub-block). */
function gifOf(width: number, height: number, frames: number): Uint8Array {
  const bytes = [...new TextEncoder().encode('GIF89a'), width & 255, width >> 8, height & 255, height >> 8, 0, 0, 0];
  for (let i = 0; i < frames; i++) {
    bytes.push(0x21, 0xf9, 4, 0, 0, 0, 0, 0); // graphic control extension
    bytes.push(0x2c, 0, 0, 0, 0, width & 255, width >> 8, height & 255, height >> 8, 0, 2, 1, 0x44, 0);
  }
  bytes.push(0x3b);
  return Uint8Array.from(bytes);
}
