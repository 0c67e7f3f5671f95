/**
 * Issue #19 items 2 and 6 as attacks on `modelport serve`: a compressed body is a decompression
 * bomb waiting to be decoded, so it is refused unread (415 `unsupported_encoding`), however it is
 * announced; and a body's type, decided by `Inference-Header-Content-Length` rather than by its
 * Content-Type, never moves JSON past the JSON limit (a JSON body sent as application/octet-stream,
 * or a binary body whose JSON header is most of it).
 */
import { connect } from 'node:net';
import { deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AttackServer, postEarly, refusal, startAttackServer, underAttack } from './harness';

const MiB = 1024 * 1024;
/** 256 MiB of JSON-ish text that gzip packs into well under 1 MiB. */
const INFLATED = Buffer.alloc(256 * MiB, '0');
const GZIP_BOMB = gzipSync(INFLATED, { level: 9 });
const DEFLATE_BOMB = deflateSync(INFLATED, { level: 9 });
const BUDGET = { maxLoopDelayMs: 1000, maxRssGrowthMb: 40 };

let server: AttackServer;
beforeAll(async () => {
  server = await startAttackServer();
});
afterAll(() => server?.stop());

/** Writes a request head and a body on a raw socket (fetch cannot send Transfer-Encoding) and returns the answer's text. */
function rawRequest(head: string, body: Buffer): Promise<string> {
  const url = new URL(server.url);
  return new Promise((resolve) => {
    const socket = connect(Number(url.port), url.hostname);
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(text));
    socket.write(head);
    socket.end(body);
  });
}

function expectUnsupportedEncoding(answer: { status: number; code: string; message: string }, header: string, value: string): void {
  expect(answer.status).toBe(415);
  expect(answer.code).toBe('unsupported_encoding');
  expect(answer.message).toContain(`the request body's ${header} '${value}' is not supported: the server decodes no compression`);
}

describe('compressed bodies under attack', () => {
  it(`a gzip bomb (${(GZIP_BOMB.byteLength / 1024).toFixed(0)} KB → 256 MiB) as Content-Encoding: gzip, to inference and to a dataset upload: 415 unread`, async () => {
    const answers = await underAttack(server, BUDGET, async () =>
      Promise.all(
        ['/v2/models/iris/infer', '/v1/datasets?name=bomb&shape=4'].map(async (pathname) =>
          refusal(
            await server.fetch(pathname, {
              method: 'POST',
              headers: { 'content-type': pathname.includes('datasets') ? 'text/csv' : 'application/json', 'content-encoding': 'gzip' },
              body: GZIP_BOMB,
            }),
          ),
        ),
      ),
    );
    for (const answer of answers) expectUnsupportedEncoding(answer, 'Content-Encoding', 'gzip');
  });

  it('a deflate bomb as a binary inference body (Inference-Header-Content-Length): 415 unread', async () => {
    const answer = await underAttack(server, BUDGET, async () =>
      refusal(
        await server.fetch('/v2/models/iris/infer', {
          method: 'POST',
          headers: { 'content-type': 'application/octet-stream', 'content-encoding': 'deflate', 'inference-header-content-length': '100' },
          body: DEFLATE_BOMB,
        }),
      ),
    );
    expectUnsupportedEncoding(answer, 'Content-Encoding', 'deflate');
  });

  it('a gzip bomb as Transfer-Encoding: gzip, chunked: 415 unread', async () => {
    const text = await underAttack(server, BUDGET, () =>
      rawRequest(
        `POST /v2/models/iris/infer HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${server.adminKey}\r\ncontent-type: application/json\r\ntransfer-encoding: gzip, chunked\r\nconnection: close\r\n\r\n`,
        Buffer.concat([Buffer.from(`${GZIP_BOMB.byteLength.toString(16)}\r\n`), GZIP_BOMB, Buffer.from('\r\n0\r\n\r\n')]),
      ),
    );
    expect(text).toMatch(/^HTTP\/1\.1 415 /);
    const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
    expectUnsupportedEncoding({ status: body.status, code: body.code, message: body.error }, 'Transfer-Encoding', 'gzip, chunked');
  });
});

describe('the binary header never carries JSON past the JSON limit', () => {
  it('a 60 MB JSON body sent as application/octet-stream (no binary header): 413 at the JSON limit, before it is read', async () => {
    const body = Buffer.alloc(60 * 1000 * 1000, ' ');
    const answer = await underAttack(server, BUDGET, async () =>
      refusal(await postEarly(server, '/v2/models/iris/infer', server.adminKey, body, { 'content-type': 'application/octet-stream' })),
    );
    expect(answer).toMatchObject({ status: 413, code: 'payload_too_large' });
    expect(answer.message).toContain('the limit for JSON (--max-json-body-bytes)');
  });

  it('a 60 MB binary body whose JSON header would be 59 MB of it: 413 naming the JSON limit, before it is read', async () => {
    const body = Buffer.alloc(60 * 1000 * 1000, ' ');
    const answer = await underAttack(server, BUDGET, async () =>
      refusal(
        await postEarly(server, '/v2/models/iris/infer', server.adminKey, body, {
          'content-type': 'application/octet-stream',
          'inference-header-content-length': String(59 * 1000 * 1000),
        }),
      ),
    );
    expect(answer).toMatchObject({ status: 413, code: 'payload_too_large' });
    expect(answer.message).toBe(
      'the JSON header of the binary body is 59,000,000 bytes (Inference-Header-Content-Length); the limit for JSON is 4,194,304 bytes (--max-json-body-bytes)',
    );
  });
});
