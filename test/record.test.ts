/**
 * `modelport record` (issue #21, item 1), run as users run it (the real CLI, a child process) in
 * front of a real server with auth on. The SDK talks through the proxy with a fetch that keeps
 * the exact bytes it sent and got, and the cassette must hold exactly those exchanges.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Modelport } from '../src/index';
import { parseCassette } from '../src/cassette/format';
import { startMockServer, type RunningMockServer } from '../mock-server/index';
import { loadIrisSplit } from '../mock-server/datasets/iris-split';
import { loadMnistSplit } from '../mock-server/datasets/mnist-split';
import { freePort } from './support/free-port';
import { CLI, startRecordingProxy, type RecordingProxy } from './support/recording-proxy';

const work = mkdtempSync(path.join(os.tmpdir(), 'modelport-record-'));
const proxies = new Set<RecordingProxy>();
let server: RunningMockServer;

interface Recorder {
  url: string;
  pid: number;
  cassette: string;
  output: () => { stdout: string; stderr: string };
  /** SIGTERM, then the exit code and the cassette's lines, parsed. */
  stop(): Promise<{ code: number | null; lines: Record<string, any>[]; text: string }>;
}

/** Starts `modelport record` against `upstream`, recording into <work>/<name>.jsonl, and waits for its proxy URL. */
async function record(upstream: string, name: string, ...args: string[]): Promise<Recorder> {
  const cassette = path.join(work, `${name}.jsonl`);
  const proxy = await startRecordingProxy(upstream, cassette, ...args);
  proxies.add(proxy);
  return {
    url: proxy.url,
    pid: proxy.pid,
    cassette,
    output: proxy.output,
    async stop() {
      const { code } = await proxy.stop();
      proxies.delete(proxy);
      const text = readFileSync(cassette, 'utf8');
      return {
        code,
        text,
        lines: text
          .trimEnd()
          .split('\n')
          .map((line) => JSON.parse(line)),
      };
    },
  };
}

interface Captured {
  method: string;
  path: string;
  query: string;
  sent: Buffer;
  status: number;
  got: Buffer;
}

/** A fetch that keeps every exchange's exact bytes, as the SDK sent and received them. */
function capturingFetch(log: Captured[]): typeof fetch {
  return async (input, init) => {
    const outgoing = new Request(input, init);
    const sent = Buffer.from(await outgoing.clone().arrayBuffer());
    const response = await fetch(outgoing);
    const got = Buffer.from(await response.clone().arrayBuffer());
    const url = new URL(outgoing.url);
    log.push({ method: outgoing.method, path: url.pathname, query: url.search.slice(1), sent, status: response.status, got });
    return response;
  };
}

/** The bytes a cassette body stands for: JSON compared as values, base64 as bytes. */
function expectBody(body: { json?: unknown; base64?: string } | null, bytes: Buffer): void {
  if (bytes.byteLength === 0) return void expect(body).toBeNull();
  if (body && 'base64' in body) return void expect(Buffer.from(body.base64!, 'base64').equals(bytes)).toBe(true);
  expect(body).toEqual({ json: JSON.parse(bytes.toString('utf8')) });
}

beforeAll(async () => {
  server = await startMockServer({ dataDir: path.join(work, 'repo') });
});

afterAll(async () => {
  for (const proxy of proxies) proxy.kill();
  await server?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('modelport record', () => {
  it('records health, metadata, 20 JSON iris and 20 binary digits predictions exactly, with model metadata and no secret', async () => {
    const recorder = await record(server.url, 'sdk');
    expect(recorder.output().stdout).toBe(`recording ${server.url} into ${recorder.cassette}, proxy listening on ${recorder.url}\n`);
    if (existsSync(`/proc/${recorder.pid}/maps`)) {
      expect(readFileSync(`/proc/${recorder.pid}/maps`, 'utf8')).not.toMatch(/tensorflow|tfjs/i);
    }
    const captured: Captured[] = [];
    const client = new Modelport({ baseUrl: recorder.url, apiKey: server.adminKey, maxRetries: 0, fetch: capturingFetch(captured) });
    const iris = loadIrisSplit().test.x;
    const digits = loadMnistSplit().test.x;

    expect(await client.health.ready()).toEqual({ ready: true });
    const serverMetadata = await client.server.metadata();
    const digitsMetadata = await client.models.metadata('digits', { version: 1 });
    for (let i = 0; i < 20; i++) await client.predict('iris', iris.subarray(i * 4, i * 4 + 4));
    const digitLabels: string[] = [];
    for (let i = 0; i < 20; i++) {
      const prediction = await client.predict('digits', digits.subarray(i * 784, i * 784 + 784), { binary: true, version: 1 });
      digitLabels.push(prediction.labels![0]!);
    }
    const { code, lines, text } = await recorder.stop();
    expect(code).toBe(0);
    expect(recorder.output().stdout).toContain(`\nSIGTERM: recorded 45 interactions into ${recorder.cassette}\n`);

    const [header, ...interactions] = lines;
    expect(header).toEqual({
      cassette: 'modelport',
      version: 1,
      recorded_at: expect.any(String),
      upstream: server.url,
      server: serverMetadata,
    });
    expect(new Date(header!.recorded_at).toISOString()).toBe(header!.recorded_at);
    // health, GET /v2, digits@1 metadata, then per model the SDK's metadata read and 20 infers.
    expect(captured).toHaveLength(45);
    expect(interactions).toHaveLength(45);
    interactions.forEach((interaction, i) => {
      const exchange = captured[i]!;
      expect(interaction).toMatchObject({ type: 'interaction', seq: i + 1, request: { method: exchange.method, path: exchange.path } });
      expect(interaction.request.query).toBe(exchange.query);
      expect(interaction.latency_ms).toBeGreaterThan(0);
      expect(interaction.response.status).toBe(exchange.status);
      expectBody(interaction.request.body, exchange.sent);
      expectBody(interaction.response.body, exchange.got);
      for (const name of Object.keys(interaction.request.headers))
        expect(['content-type', 'inference-header-content-length', 'accept']).toContain(name);
    });

    const irisMetadata = JSON.parse(captured[3]!.got.toString('utf8'));
    expect(interactions.slice(0, 4).map((i) => `${i.request.method} ${i.request.path}`)).toEqual([
      'GET /v2/health/ready',
      'GET /v2',
      'GET /v2/models/digits/versions/1',
      'GET /v2/models/iris',
    ]);
    expect(interactions.slice(0, 2).map((i) => i.model)).toEqual([null, null]);
    expect(interactions[2]!.model).toEqual({ name: 'digits', version: '1', metadata: digitsMetadata });
    const irisInfers = interactions.slice(4, 24);
    const digitInfers = interactions.slice(25);
    expect(interactions[24]!.request.path).toBe('/v2/models/digits/versions/1');
    for (const infer of irisInfers) {
      expect(infer).toMatchObject({ request: { method: 'POST', path: '/v2/models/iris/infer' }, response: { status: 200 } });
      expect(infer.model).toEqual({ name: 'iris', version: null, metadata: irisMetadata });
      expect(infer.request.body.json.inputs[0]).toMatchObject({ name: 'features', datatype: 'FP32', shape: [1, 4] });
      expect(infer.response.body.json.outputs[0]).toMatchObject({ name: 'probabilities', datatype: 'FP32', shape: [1, 3] });
    }
    for (const infer of digitInfers) {
      expect(infer).toMatchObject({ request: { method: 'POST', path: '/v2/models/digits/versions/1/infer' }, response: { status: 200 } });
      expect(infer.model).toEqual({ name: 'digits', version: '1', metadata: digitsMetadata });
      expect(infer.request.headers['inference-header-content-length']).toMatch(/^\d+$/);
      expect(infer.response.headers['inference-header-content-length']).toMatch(/^\d+$/);
      expect(Buffer.from(infer.request.body.base64, 'base64').byteLength).toBeGreaterThan(784 * 4);
      expect(Object.keys(infer.response.body)).toEqual(['base64']);
    }
    expect(new Set(digitLabels).size).toBeGreaterThan(3);

    expect(text).not.toContain(server.adminKey);
    expect(text).not.toMatch(/authorization/i);
    // The SDK's reader (the one replay uses) reads it as written.
    expect(parseCassette(text)).toEqual({ header, interactions });
  });

  it('--api-key replaces the client’s credentials; /v1 is read-only (405), other paths and bodies over 64 MiB are refused', async () => {
    const recorder = await record(server.url, 'api-key', '--api-key', server.adminKey);
    const noKey = await fetch(`${recorder.url}/v2/models/iris/ready`);
    const wrongKey = await fetch(`${recorder.url}/v1/models?limit=1`, { headers: { authorization: 'Bearer mp_wrong' } });
    expect([noKey.status, await noKey.json()]).toEqual([200, { name: 'iris', ready: true }]);
    expect(wrongKey.status).toBe(200);
    expect((await wrongKey.json()).data).toHaveLength(1);

    const write = await fetch(`${recorder.url}/v1/models`, {
      method: 'POST',
      body: '{"name":"x"}',
      headers: { 'content-type': 'application/json' },
    });
    expect(write.status).toBe(405);
    expect(write.headers.get('allow')).toBe('GET, HEAD');
    expect(await write.json()).toEqual({
      error: 'modelport record forwards /v1 read-only (GET and HEAD only): POST /v1/models was not sent to the upstream and not recorded',
    });
    const controls = await fetch(`${recorder.url}/_mock/journal`);
    expect(controls.status).toBe(404);
    expect((await controls.json()).error).toBe(
      'modelport record forwards /v2 and read-only /v1 only: /_mock/journal was not sent to the upstream',
    );

    const tooLarge = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const url = new URL(`${recorder.url}/v2/models/iris/infer`);
      const req = request(url, { method: 'POST', headers: { 'content-length': 64 * 1024 * 1024 + 1, 'content-type': 'application/json' } });
      req.on('response', (res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      req.write('{"inputs":');
    });
    expect(tooLarge.status).toBe(413);
    expect(JSON.parse(tooLarge.body).error).toBe(
      'modelport record takes request bodies up to 64 MiB; this one is larger and was not forwarded',
    );

    const { code, lines, text } = await recorder.stop();
    expect(code).toBe(0);
    expect(lines.slice(1).map((i) => [i.request.method, i.request.path, i.request.query, i.response.status])).toEqual([
      ['GET', '/v2/models/iris/ready', '', 200],
      ['GET', '/v1/models', 'limit=1', 200],
    ]);
    expect(text).not.toContain(server.adminKey);
    expect(text).not.toContain('mp_wrong');
    expect(text).not.toMatch(/authorization/i);
  });

  it('an unreachable upstream: server null in the header, 502 naming the upstream, nothing recorded', async () => {
    const upstream = `http://127.0.0.1:${await freePort()}`;
    const recorder = await record(upstream, 'unreachable');
    expect(recorder.output().stderr).toContain(`GET ${upstream}/v2 did not answer with JSON; the cassette's server is null`);
    const answer = await fetch(`${recorder.url}/v2/health/ready`);
    expect(answer.status).toBe(502);
    expect((await answer.json()).error).toMatch(new RegExp(`^the upstream ${upstream} did not answer: ECONNREFUSED`));
    const { code, lines } = await recorder.stop();
    expect(code).toBe(0);
    expect(lines).toEqual([{ cassette: 'modelport', version: 1, recorded_at: expect.any(String), upstream, server: null }]);
    expect(recorder.output().stdout).toContain('SIGTERM: recorded 0 interactions');

    // A cassette is never recorded over by accident.
    const again = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(process.execPath, [CLI, 'record', '--upstream', upstream, '--cassette', recorder.cassette], (error, _stdout, stderr) =>
        resolve({ code: error ? (error.code as number) : 0, stderr }),
      ),
    );
    expect(again).toEqual({
      code: 2,
      stderr: `modelport: ${recorder.cassette} exists: pass --force to overwrite it, or name another cassette\n`,
    });
  });

  it('streams through a stub upstream under a path prefix: bytes unchanged, hop-by-hop headers dropped, lossy JSON kept as base64', async () => {
    let finishStream!: () => void;
    const streamFinished = new Promise<void>((resolve) => (finishStream = resolve));
    let slowArrived!: () => void;
    const slowStarted = new Promise<void>((resolve) => (slowArrived = resolve));
    const stub = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk) => chunks.push(chunk));
      req.on('end', async () => {
        if (req.url === '/prefix/v2') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"name":"stub"}');
        if (req.url === '/prefix/v2/echo?x=1') {
          res.writeHead(201, { 'content-type': 'application/octet-stream', 'x-stub': 'kept', connection: 'x-hop', 'x-hop': 'dropped' });
          return res.end(Buffer.concat([Buffer.from([0, 255, 1]), ...chunks]));
        }
        if (req.url === '/prefix/v2/numbers')
          return res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[9007199254740993,1.5]}');
        if (req.url === '/prefix/v2/slow') {
          slowArrived();
          return setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"slow":true}'), 300);
        }
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: first\n\n');
        await streamFinished;
        res.end('data: last\n\n');
      });
    });
    await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
    const upstream = `http://127.0.0.1:${(stub.address() as AddressInfo).port}/prefix`;
    const recorder = await record(upstream, 'stub');

    const sent = Buffer.from([9, 8, 7, 0, 200]);
    const echo = await fetch(`${recorder.url}/v2/echo?x=1`, {
      method: 'POST',
      body: sent,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(echo.status).toBe(201);
    expect(echo.headers.get('x-stub')).toBe('kept');
    expect(echo.headers.get('x-hop')).toBeNull(); // hop-by-hop: named by the upstream's Connection header
    expect(Buffer.from(await echo.arrayBuffer()).equals(Buffer.concat([Buffer.from([0, 255, 1]), sent]))).toBe(true);
    const numbers = await fetch(`${recorder.url}/v2/numbers`);
    expect(await numbers.text()).toBe('{"data":[9007199254740993,1.5]}');
    // The first event arrives through the proxy while the upstream is still answering.
    const stream = await fetch(`${recorder.url}/v2/events`);
    const reader = stream.body!.getReader();
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('data: first\n\n');
    finishStream();
    let rest = '';
    for (let part = await reader.read(); !part.done; part = await reader.read()) rest += new TextDecoder().decode(part.value);
    expect(rest).toBe('data: last\n\n');

    // SIGTERM while an exchange is under way: it is answered and recorded before the recorder exits.
    const slow = fetch(`${recorder.url}/v2/slow`);
    await slowStarted;
    const [{ code, lines }, slowAnswer] = await Promise.all([recorder.stop(), slow]);
    expect([slowAnswer.status, await slowAnswer.json()]).toEqual([200, { slow: true }]);
    await new Promise((resolve) => stub.close(resolve));
    expect(code).toBe(0);
    expect(recorder.output().stdout).toContain('SIGTERM: recorded 4 interactions');
    expect(lines[0]).toMatchObject({ upstream, server: { name: 'stub' } });
    expect(lines[4]).toMatchObject({ seq: 4, request: { path: '/v2/slow' }, response: { status: 200, body: { json: { slow: true } } } });
    const [echoed, numbered, streamed] = lines.slice(1);
    expect(echoed).toMatchObject({ model: null, request: { method: 'POST', path: '/v2/echo', query: 'x=1' }, response: { status: 201 } });
    expect(echoed!.request.body).toEqual({ base64: sent.toString('base64') });
    expect(echoed!.response.headers).toEqual({ 'content-type': 'application/octet-stream' });
    expect(Buffer.from(echoed!.response.body.base64, 'base64')).toEqual(Buffer.concat([Buffer.from([0, 255, 1]), sent]));
    // A float64 would read 9007199254740993 as ...992: the exact bytes are kept instead.
    expect(numbered!.response.body).toEqual({ base64: Buffer.from('{"data":[9007199254740993,1.5]}').toString('base64') });
    expect(Buffer.from(streamed!.response.body.base64, 'base64').toString()).toBe('data: first\n\ndata: last\n\n');
  });
});
