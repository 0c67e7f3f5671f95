/**
 * Hostile uploads (issue #18 item 8) against `modelport serve`: each is refused with its status,
 * code and the limit it broke, while the server's event loop stays within 1 s and its resident
 * memory within the stated budget (measured inside the server), and it is ready afterwards. The
 * work (inflating, parsing saved_model.pb, loading the model) happens in the inspection child
 * process, whose own memory is not the server's. A good upload still works at the end.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deflatedRepeats, deflatedZeros, NINE_BYTE_SAVED_MODEL, tarGzClaiming, tarGzOfEntries, zipOf } from '../helpers/bombs';
import { filesOf } from '../helpers/archives';
import { BUNDLED } from '../helpers/data-dir';
import { type AttackServer, refusal, startAttackServer, underAttack } from './harness';

const FIXTURES = new URL('../fixtures/savedmodel/', import.meta.url).pathname;
/** The server's budget while an attack runs: the 1 s, and a few copies of the largest body sent (11 MB). */
const BUDGET = { maxLoopDelayMs: 1000, maxRssGrowthMb: 64 };
const TIMEOUT_S = 20;
const MEMORY_MB = 768;

let server: AttackServer;
let writer: string;

beforeAll(async () => {
  server = await startAttackServer({
    args: ['--upload-inspection-timeout', String(TIMEOUT_S), '--upload-inspection-memory', String(MEMORY_MB)],
  });
  writer = await server.key(['models:read', 'models:write']);
  for (const name of ['victim', 'tiny']) {
    const response = await server.fetch('/v1/models', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name, task: 'tabular-classification' }),
    });
    expect(response.status).toBe(201);
  }
}, 120_000);
afterAll(() => server?.stop());

function upload(model: string, body: Uint8Array | FormData, contentType?: string) {
  return server
    .fetch(`/v1/models/${model}/versions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${writer}`, ...(contentType ? { 'content-type': contentType } : {}) },
      body: body instanceof FormData ? body : new Blob([body as Uint8Array<ArrayBuffer>]),
    })
    .then(refusal);
}

function form(files: Record<string, Uint8Array>): FormData {
  const body = new FormData();
  for (const [name, bytes] of Object.entries(files)) body.append('files', new Blob([bytes as Uint8Array<ArrayBuffer>]), name);
  return body;
}

describe('hostile uploads are refused off the main thread', () => {
  it('a 9-byte saved_model.pb: 400 invalid_model', async () => {
    const answer = await underAttack(server, BUDGET, () => upload('tiny', form({ 'saved_model.pb': NINE_BYTE_SAVED_MODEL })));
    expect(answer).toMatchObject({ status: 400, code: 'invalid_model' });
    expect(answer.message).toContain('saved_model.pb');
  });

  it('a truncated saved_model.pb: 400 invalid_model', async () => {
    const files = await filesOf(path.join(FIXTURES, 'tiny-classifier'));
    const pb = files['saved_model.pb']!;
    const truncated = { ...files, 'saved_model.pb': pb.subarray(0, Math.floor(pb.byteLength * 0.6)) };
    const answer = await underAttack(server, BUDGET, () => upload('tiny', form(truncated)));
    expect(answer).toMatchObject({ status: 400, code: 'invalid_model' });
  });

  it('a SavedModel whose init op loops for ever: killed at --upload-inspection-timeout, 400 invalid_model', async () => {
    const files = await filesOf(path.join(FIXTURES, 'slow-init'));
    const answer = await underAttack(server, BUDGET, () => upload('tiny', form(files)));
    expect(answer).toMatchObject({ status: 400, code: 'invalid_model' });
    expect(answer.message).toContain(`inspecting the upload took longer than ${TIMEOUT_S} s (--upload-inspection-timeout)`);
  });

  it('a 3 MB tar.gz claiming 4 GB: 413 on its gzip trailer, before inflating', async () => {
    const bomb = tarGzClaiming(4e9, 3072);
    const answer = await underAttack(server, BUDGET, () => upload('victim', bomb, 'application/gzip'));
    expect(answer).toMatchObject({ status: 413, code: 'payload_too_large' });
    expect(answer.message).toContain(
      'the gzip trailer declares 3,221,225,472 bytes once unpacked; the limit is 2,147,483,648 bytes unpacked',
    );
  });

  it('a zip of 10 × 1 GiB entries: 413 on its central directory, before inflating', async () => {
    const bomb = zipOf(Array.from({ length: 10 }, (_, i) => ({ name: `part${i}.bin`, deflated: deflatedZeros(1024) })));
    const answer = await underAttack(server, BUDGET, () => upload('victim', bomb, 'application/zip'));
    expect(answer).toMatchObject({ status: 413, code: 'payload_too_large' });
    expect(answer.message).toContain('declares 10,737,418,240 bytes once unpacked; the limit is 2,147,483,648 bytes unpacked');
  });

  it('a zip whose entry lies about its size: 400 invalid_archive at the declared size', async () => {
    const liar = zipOf([{ name: 'weights.bin', deflated: deflatedZeros(512), declaredSize: 4096 }]);
    const answer = await underAttack(server, BUDGET, () => upload('victim', liar, 'application/zip'));
    expect(answer).toMatchObject({ status: 400, code: 'invalid_archive' });
    expect(answer.message).toContain("entry 'weights.bin' inflates to more than the 4096 bytes its central directory declares");
  });

  it('a gzip bomb whose trailer declares 1,000 bytes: 413 at the 100:1 ratio while inflating', async () => {
    const answer = await underAttack(server, BUDGET, () => upload('victim', tarGzOfEntries(2048, 1000), 'application/gzip'));
    expect(answer).toMatchObject({ status: 413, code: 'payload_too_large' });
    expect(answer.message).toContain('may expand at most 100:1 (--max-upload-expansion)');
  });

  it('a model within the expansion limits that needs more memory to load: killed at --upload-inspection-memory, 413', async () => {
    const answer = await underAttack(server, BUDGET, () => upload('victim', memoryBomb(), 'application/zip'));
    expect({ status: answer.status, code: answer.code, message: answer.message }).toMatchObject({
      status: 413,
      code: 'payload_too_large',
      message: expect.stringContaining(
        `inspecting the upload needed more than ${MEMORY_MB.toLocaleString('en-US')} MB of memory (--upload-inspection-memory)`,
      ),
    });
  });

  it('a good upload still works afterwards, and is served', async () => {
    const files = await filesOf(path.join(BUNDLED, 'iris', '1'));
    delete files['version.json'];
    const answer = await underAttack(server, { maxLoopDelayMs: 1000, maxRssGrowthMb: 128 }, () => upload('victim', form(files)));
    expect(answer).toMatchObject({ status: 201, body: { model: 'victim', version: 1, state: 'READY' } });
    const inference = await server.fetch('/v2/models/victim/infer', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }] }),
    });
    expect(inference.status).toBe(200);
  });
});

/**
 * A valid TF.js model of one Dense layer with 9,437,184 units (612 MiB of zero weights) in a 7 MB
 * zip: random bytes keep it under 100:1, so it unpacks; loading it then needs well over 1 GB.
 */
function memoryBomb(): Uint8Array {
  const units = 9_437_184;
  const weightBytes = (16 * units + units) * 4;
  const modelJson = Buffer.from(
    JSON.stringify({
      format: 'layers-model',
      modelTopology: {
        class_name: 'Sequential',
        config: {
          name: 'wide',
          layers: [
            {
              class_name: 'Dense',
              config: { name: 'dense', units, use_bias: true, activation: 'linear', batch_input_shape: [null, 16], dtype: 'float32' },
            },
          ],
        },
      },
      weightsManifest: [
        {
          paths: ['weights.bin'],
          weights: [
            { name: 'dense/kernel', shape: [16, units], dtype: 'float32' },
            { name: 'dense/bias', shape: [units], dtype: 'float32' },
          ],
        },
      ],
    }),
  );
  const noise = randomBytes(Math.ceil(weightBytes / 90));
  return zipOf([
    { name: 'model.json', deflated: deflatedRepeats(modelJson, 1) },
    { name: 'noise.bin', deflated: deflatedRepeats(noise, 1) },
    { name: 'weights.bin', deflated: deflatedZeros(weightBytes / (1024 * 1024)) },
  ]);
}
