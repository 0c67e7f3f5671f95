/**
 * Issue #18, item 1, as the attacker did it against `modelport serve`: a `models:write` key uploads
 * SavedModels that call `tf.io.read_file` / `tf.io.write_file` (one hides ReadFile in a while loop
 * of a nested function), then an `inference` key asks them for `/etc/hostname` and to write a file
 * outside the data dir. Every upload is refused 400 `forbidden_op` naming the op, node and function
 * (checked in the inspection process, before TensorFlow reads the file), no version is kept, and
 * nothing is read or written.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { filesOf, zip } from '../helpers/archives';
import { type AttackServer, refusal, startAttackServer, underAttack } from './harness';

const POLICY = new URL('../fixtures/savedmodel/policy/', import.meta.url).pathname;
// The server's own memory: uploads are unpacked and checked in a child process.
const BUDGET = { maxLoopDelayMs: 1000, maxRssGrowthMb: 60 };

let server: AttackServer;
let outside: string;
beforeAll(async () => {
  server = await startAttackServer();
  outside = await mkdtemp(path.join(os.tmpdir(), 'modelport-outside-'));
});
afterAll(async () => {
  await server?.stop();
  await rm(outside, { recursive: true, force: true });
});

const as = (secret: string, body: unknown) => ({
  method: 'POST',
  headers: { authorization: `Bearer ${secret}`, 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

describe('model policy attacks', () => {
  it('SavedModels that read and write files are refused at upload; /etc/hostname is never readable through /infer', async () => {
    const writer = await server.key(['models:read', 'models:write']);
    const reader = await server.key(['inference']);
    const hostile = [
      ['read-file', 'ReadFile'],
      ['write-file', 'WriteFile'],
      ['nested-read-file', 'ReadFile'],
    ] as const;
    const archives = await Promise.all(hostile.map(async ([fixture]) => zip(await filesOf(path.join(POLICY, fixture)))));
    const written = path.join(outside, 'written-by-a-model.txt');

    const { uploads, inferences } = await underAttack(server, BUDGET, async () => {
      const uploads = [];
      for (const [i, [fixture]] of hostile.entries()) {
        expect((await server.fetch('/v1/models', as(writer, { name: fixture, task: 'attack' }))).status).toBe(201);
        const upload = await server.fetch(`/v1/models/${fixture}/versions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${writer}`, 'content-type': 'application/zip' },
          body: new Uint8Array(archives[i]!),
        });
        uploads.push(await refusal(upload));
      }
      const inferences = await Promise.all([
        server.fetch(
          '/v2/models/read-file/infer',
          as(reader, { inputs: [{ name: 'path', datatype: 'BYTES', shape: [1], data: ['/etc/hostname'] }] }),
        ),
        server.fetch(
          '/v2/models/write-file/infer',
          as(reader, {
            inputs: [
              { name: 'path', datatype: 'BYTES', shape: [], data: [written] },
              { name: 'contents', datatype: 'BYTES', shape: [], data: ['owned'] },
            ],
          }),
        ),
        server.fetch(
          '/v2/models/nested-read-file/infer',
          as(reader, { inputs: [{ name: 'path', datatype: 'BYTES', shape: [], data: ['/etc/hostname'] }] }),
        ),
      ]);
      return { uploads, inferences: await Promise.all(inferences.map(async (r) => ({ status: r.status, text: await r.text() }))) };
    });

    for (const [i, [, op]] of hostile.entries()) {
      expect(uploads[i]).toMatchObject({ status: 400, code: 'forbidden_op' });
      expect(uploads[i]!.message).toMatch(new RegExp(`^op '${op}' \\(node '[^']+', function '[^']+'\\) reads or writes files; `));
    }
    const hostname = existsSync('/etc/hostname') ? readFileSync('/etc/hostname', 'utf8').trim() : undefined;
    for (const answer of inferences) {
      expect(answer.status).not.toBe(200);
      if (hostname) expect(answer.text).not.toContain(hostname);
    }
    expect(existsSync(written)).toBe(false);
    for (const [fixture] of hostile) {
      const versions = (await (await server.fetch(`/v1/models/${fixture}/versions`)).json()) as { data: unknown[] };
      expect(versions.data).toEqual([]);
    }
  });
});
