/**
 * The attack harness: `modelport serve` in a child process (auth and test controls on, a fresh
 * data dir), and `underAttack`, which checks the budgets the server measured inside itself
 * (GET /_mock/vitals) while one attack ran: the largest event-loop delay, the peak growth of
 * resident memory, and that the server is still ready afterwards. Budgets are read from the
 * server, never from wall-clock timings on a busy machine. Every attack's figures are appended to
 * test-results/attacks.jsonl, the source of RELIABILITY.md's table.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { request } from 'node:http';
import path from 'node:path';
import { expect } from 'vitest';
import { type ChildServer, kill, startChildServer } from '../helpers/child-server';
import { tempDataDir } from '../helpers/data-dir';

const ADMIN_KEY = 'mp_attacker_admin_key_0123456789abcdef';
const REPORT = path.join(import.meta.dirname, '..', '..', 'test-results', 'attacks.jsonl');
const MB = 1024 * 1024;

export interface AttackServer {
  url: string;
  adminKey: string;
  child: ChildServer;
  /** A new API key with these scopes (and model restriction); returns its secret. */
  key(scopes: string[], models?: string[]): Promise<string>;
  /** fetch against the server with the admin key unless `init.headers.authorization` is given. */
  fetch(pathname: string, init?: RequestInit): Promise<Response>;
  stop(): Promise<void>;
}

export interface Budget {
  /** The largest event-loop delay allowed while the attack runs (the bound is 1 s). */
  maxLoopDelayMs: number;
  /** How far resident memory may rise above where it was when the attack began. */
  maxRssGrowthMb: number;
}

export interface Vitals {
  since: string;
  rss_bytes: number;
  rss_at_start_bytes: number;
  peak_rss_bytes: number;
  heap_used_bytes: number;
  event_loop_delay_ms: { max: number; p99: number; mean: number };
}

export async function startAttackServer(options: { args?: string[]; env?: Record<string, string> } = {}): Promise<AttackServer> {
  const data = await tempDataDir();
  const child = await startChildServer(data.dir, ['--mock-controls', ...(options.args ?? [])], { adminKey: ADMIN_KEY, env: options.env });
  const url = child.url;
  const server: AttackServer = {
    url,
    adminKey: ADMIN_KEY,
    child,
    fetch: (pathname, init = {}) => {
      const headers = new Headers(init.headers);
      if (!headers.has('authorization')) headers.set('authorization', `Bearer ${ADMIN_KEY}`);
      return fetch(new URL(pathname, url), { ...init, headers });
    },
    key: async (scopes, models) => {
      const response = await server.fetch('/v1/api-keys', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: `attacker-${scopes.join('-')}`, scopes, ...(models ? { models } : {}) }),
      });
      expect(response.status, await response.clone().text()).toBe(201);
      return ((await response.json()) as { secret: string }).secret;
    },
    stop: async () => {
      await kill(child, 'SIGTERM');
      await data.remove();
    },
  };
  return server;
}

/**
 * Runs one attack inside a fresh vitals window and asserts the budget; returns the attack's
 * result for the caller's own assertions (status, code, the limit named).
 */
export async function underAttack<T>(server: AttackServer, budget: Budget, attack: () => Promise<T>, name = currentTestName()): Promise<T> {
  expect((await server.fetch('/_mock/vitals', { method: 'DELETE' })).status).toBe(204);
  const result = await attack();
  const vitalsResponse = await server.fetch('/_mock/vitals');
  expect(vitalsResponse.status).toBe(200);
  const vitals = (await vitalsResponse.json()) as Vitals;
  const growthMb = (vitals.peak_rss_bytes - vitals.rss_at_start_bytes) / MB;
  await record({ name, budget, loopDelayMaxMs: vitals.event_loop_delay_ms.max, rssGrowthMb: Math.round(growthMb * 10) / 10 });
  expect(vitals.event_loop_delay_ms.max, `event-loop delay during '${name}'`).toBeLessThanOrEqual(budget.maxLoopDelayMs);
  expect(growthMb, `peak RSS growth (MB) during '${name}'`).toBeLessThanOrEqual(budget.maxRssGrowthMb);
  const ready = await server.fetch('/v2/health/ready');
  expect(ready.status, `ready after '${name}'`).toBe(200);
  return result;
}

/** The error body's code and message, for assertions on refusals. */
export async function refusal(response: Response): Promise<{ status: number; code: string; message: string; body: any }> {
  const text = await response.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = { raw: text.slice(0, 500) };
  }
  return { status: response.status, code: body?.code, message: body?.error ?? '', body };
}

async function record(entry: object): Promise<void> {
  await mkdir(path.dirname(REPORT), { recursive: true });
  await appendFile(REPORT, `${JSON.stringify({ at: new Date().toISOString(), ...entry })}\n`);
}

function currentTestName(): string {
  return expect.getState().currentTestName ?? 'attack';
}

const MiB = 1024 * 1024;

/**
 * POSTs over node:http: the headers, then (for a large body 300 ms later) the body in 1 MiB writes, stopping once
 * the answer arrives. A 413 on Content-Length comes before the body is read and closes the
 * connection; writing into it would fail (EPIPE, or a reset that loses the answer), and fetch
 * reports only the broken write.
 */
export function postEarly(
  server: AttackServer,
  pathname: string,
  key: string,
  body: string | Uint8Array,
  headers: Record<string, string>,
): Promise<Response> {
  const bytes = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  return new Promise((resolve, reject) => {
    const req = request(new URL(pathname, server.url), {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-length': String(bytes.length), ...headers },
    });
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve(new Response(Buffer.concat(chunks), { status: res.statusCode! })));
      res.on('error', reject);
    });
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    const writeFrom = (offset: number): void => {
      for (let at = offset; at < bytes.length; at += MiB) {
        if (answered || req.destroyed) return;
        if (!req.write(bytes.subarray(at, at + MiB))) {
          req.once('drain', () => writeFrom(at + MiB));
          return;
        }
      }
      req.end();
    };
    // The headers first: a large body refused on its Content-Length is answered before any of it is sent.
    req.flushHeaders();
    setTimeout(() => writeFrom(0), bytes.length > 8 * MiB ? 300 : 0);
  });
}
