/**
 * Below fetch: raw HTTP/1.1 on a socket to a listening server, for what the fetch API will not
 * send — CR/LF and NUL in header values, forbidden methods (TRACE, CONNECT), request targets
 * such as `*` and absolute URLs, Host headers that are no host, lying or duplicated
 * Content-Length, broken chunked encoding, bodies cut short by a client that goes away, oversized
 * headers, pipelining, and bodies or headers that never end (the client stays connected and
 * silent). Checks: no 5xx, every JSON answer carries `x-request-id` equal to its `request_id`, a
 * stalled request is answered or closed within the server's timeouts (never held), nothing is
 * logged as an internal error, and the server then serves normally, also while more stalled
 * inference bodies than a model has admission slots are open.
 */
import net from 'node:net';
import fc from 'fast-check';
import { listen } from '../../mock-server/http/node-adapter';
import { createModelServer } from '../../mock-server/server/create-server';

export interface RawCase {
  method: string;
  target: string;
  version: string;
  headers: string[];
  body: string;
  framing: 'exact' | 'short' | 'long' | 'none' | 'chunked' | 'bad-chunk' | 'te+cl' | 'dup-cl' | 'stall-body' | 'stall-headers';
}

export interface RawReport {
  cases: number;
  responses: number;
  statuses: Record<string, number>;
  /** Connections closed by the server without an answer (node's parser refusing, CONNECT). */
  closedWithoutAnswer: number;
  failures: string[];
  internalErrorsLogged: number;
}

const INFER = '{"inputs":[{"name":"features","shape":[1,4],"datatype":"FP32","data":[5.1,3.5,1.4,0.2]}]}';

export const rawCase: fc.Arbitrary<RawCase> = fc.record({
  method: fc.constantFrom(
    'GET',
    'POST',
    'POST',
    'PUT',
    'DELETE',
    'OPTIONS',
    'HEAD',
    'TRACE',
    'TRACK',
    'PURGE',
    'get',
    'CONNECT',
    'M-SEARCH',
  ),
  target: fc.constantFrom(
    '/v2',
    '/v2/models/iris/infer',
    '/v2/models/iris/infer',
    '/v1/models',
    '/v2/health/ready',
    '*',
    'http://evil.example/v2',
    '//v2//models',
    '/v2/models/ir\u0000is',
    '/v2/../../etc/passwd',
    '/%',
    '/v2/models/iris/infer?x=%zz&limit=%00',
    `/${'a'.repeat(9000)}`,
    '/v2 /x',
    '/v2/models/iris\r\nX: y',
  ),
  version: fc.constantFrom('HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/9.9', 'http/1.1'),
  headers: fc.oneof(
    fc.constant(['Host: 127.0.0.1', 'Content-Type: application/json']).map((h) => [...h]),
    fc.subarray(
      [
        'Host: 127.0.0.1',
        'Host: a b',
        'Host: [::1',
        'Host: x\u0000y',
        'Host: evil.example:99999',
        'Host: 127.0.0.1',
        'Content-Type: application/json',
        'Content-Type: text/xml',
        'Content-Type: application/octet-stream',
        'X-Request-Id: a\rb',
        'X-Request-Id: a\nInjected: yes',
        'X-Request-Id: ok-1',
        ' folded: continuation',
        'X-Obs-Fold: a\r\n b',
        'Authorization: Bearer \u00ff\u00fe',
        'Inference-Header-Content-Length: -5',
        `X-Long: ${'l'.repeat(8_000)}`,
        `X-Huge: ${'h'.repeat(20_000)}`,
        'No-Colon-Header',
        'Bad Name: x',
        'X-Latin1: \u00e9\u00ff',
        'Expect: 100-continue',
        'Connection: close',
        'Connection: keep-alive, Upgrade',
        'Upgrade: websocket',
      ],
      { minLength: 0, maxLength: 6 },
    ),
  ),
  body: fc.constantFrom(INFER, INFER, '', 'garbage', '{"inputs":', '\u00ff\u00fe\u0000'),
  framing: fc.constantFrom(
    'exact',
    'exact',
    'short',
    'long',
    'none',
    'chunked',
    'bad-chunk',
    'te+cl',
    'dup-cl',
    'stall-body',
    'stall-headers',
  ),
});

export function encodeRaw(c: RawCase): Buffer {
  const headers = [...c.headers];
  const body = Buffer.from(c.body, 'latin1');
  let payload = body;
  switch (c.framing) {
    case 'exact':
      headers.push(`Content-Length: ${body.length}`);
      break;
    case 'short':
      headers.push(`Content-Length: ${body.length + 100}`);
      break; // then the client goes away
    case 'long':
      headers.push(`Content-Length: ${Math.max(0, body.length - 5)}`);
      break;
    case 'chunked':
      headers.push('Transfer-Encoding: chunked');
      payload = Buffer.concat([Buffer.from(`${body.length.toString(16)}\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
      break;
    case 'bad-chunk':
      headers.push('Transfer-Encoding: chunked');
      payload = Buffer.concat([Buffer.from('zz\r\n'), body, Buffer.from('\r\n0\r\n\r\n')]);
      break;
    case 'te+cl':
      headers.push('Transfer-Encoding: chunked', `Content-Length: ${body.length}`);
      break;
    case 'dup-cl':
      headers.push(`Content-Length: ${body.length}`, `Content-Length: ${body.length + 1}`);
      break;
    case 'none':
      break;
    case 'stall-body':
      // Announces the body, sends its first byte, then nothing more.
      headers.push(`Content-Length: ${body.length + 100}`);
      payload = body.subarray(0, 1);
      break;
    case 'stall-headers':
      // The head never ends: no blank line.
      return Buffer.from(`${c.method} ${c.target} ${c.version}\r\n${headers.map((h) => `${h}\r\n`).join('')}`, 'latin1');
  }
  return Buffer.concat([
    Buffer.from(`${c.method} ${c.target} ${c.version}\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`, 'latin1'),
    payload,
  ]);
}

/** The raw fuzz server's timeouts: short, so that stalled requests are answered within a case. */
const STALL_LIMITS = { headersTimeoutMs: 600, bodyIdleTimeoutMs: 300, bodyTimeoutMs: 1200 };
/** A stalled request must be answered or closed by then (the timeouts plus Node's checking interval and slack). */
const STALL_DEADLINE_MS = 3000;

/**
 * Sends one raw request and collects what comes back until the server closes (or 2 s). A stalled
 * request keeps its side open (a client that stays silent); `closed` says whether the server
 * answered or closed before the deadline.
 */
function exchange(port: number, bytes: Buffer, stall = false): Promise<{ received: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    const done = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ received, closed });
    };
    const timer = setTimeout(() => done(!stall || received.length > 0), stall ? STALL_DEADLINE_MS : 2000);
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      if (stall && /\r\n\r\n/.test(received)) setTimeout(() => done(true), 50);
    });
    socket.on('error', () => done(true));
    socket.on('close', () => done(true));
    if (stall) socket.write(bytes);
    else socket.end(bytes);
  });
}

/** The responses in a byte stream: status, headers, and the JSON body when there is one. */
function responses(text: string): { status: number; headers: Record<string, string>; json?: any }[] {
  const out: { status: number; headers: Record<string, string>; json?: any }[] = [];
  for (const part of text.split(/(?=HTTP\/1\.[01] \d{3} )/).filter((p) => p.startsWith('HTTP/1.'))) {
    const [head = '', rest = ''] = part.split('\r\n\r\n', 2);
    const [statusLine, ...lines] = head.split('\r\n');
    const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    let json: any;
    if (headers['content-type']?.startsWith('application/json')) {
      const body = headers['transfer-encoding'] === 'chunked' ? dechunk(rest) : rest;
      try {
        json = JSON.parse(Buffer.from(body, 'latin1').toString('utf8'));
      } catch {
        json = undefined;
      }
    }
    out.push({ status: Number(statusLine!.split(' ')[1]), headers, json });
  }
  return out;
}

function describe(c: RawCase): string {
  return JSON.stringify({ ...c, headers: c.headers.map((h) => h.slice(0, 60)), target: c.target.slice(0, 60) });
}

function dechunk(text: string): string {
  let out = '';
  let rest = text;
  for (;;) {
    const eol = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, eol), 16);
    if (!(size > 0)) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}

export async function runRawHttpFuzz(options: { seed: number; runs: number }): Promise<RawReport> {
  const server = await createModelServer({ auth: false, validateResponses: false, maxInFlightPerModel: 4, ...STALL_LIMITS });
  const listening = await listen(server.handler, STALL_LIMITS);
  const port = Number(new URL(listening.url).port);
  const report: RawReport = { cases: 0, responses: 0, statuses: {}, closedWithoutAnswer: 0, failures: [], internalErrorsLogged: 0 };
  const consoleError = console.error;
  console.error = (...args: unknown[]) => {
    if (String(args[0]).includes('internal error')) report.internalErrorsLogged += 1;
    consoleError(...args);
  };
  try {
    const cases = fc.sample(rawCase, { seed: options.seed, numRuns: options.runs });
    for (const c of cases) {
      report.cases += 1;
      const stall = c.framing.startsWith('stall');
      const { received, closed } = await exchange(port, encodeRaw(c), stall);
      if (!closed) report.failures.push(`${describe(c)}: a stalled request was neither answered nor closed within ${STALL_DEADLINE_MS} ms`);
      const answers = responses(received);
      if (!answers.length) report.closedWithoutAnswer += 1;
      for (const answer of answers) {
        report.responses += 1;
        report.statuses[answer.status] = (report.statuses[answer.status] ?? 0) + 1;
        const problems: string[] = [];
        if (answer.status >= 500) problems.push(`status ${answer.status}`);
        if (answer.headers['content-type']?.startsWith('application/json')) {
          const id = answer.headers['x-request-id'];
          if (!id) problems.push('a JSON answer without x-request-id');
          // (Answers to HEAD carry no body.)
          if (answer.status >= 400 && c.method !== 'HEAD' && answer.json?.request_id !== id)
            problems.push(`request_id ${answer.json?.request_id} ≠ x-request-id ${id}`);
        }
        if (problems.length) report.failures.push(`${describe(c)}: ${problems.join('; ')}`);
      }
    }
    // Twice as many silent inference bodies as iris has admission slots: none holds a slot.
    const stalled = Array.from({ length: 8 }, () => {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.write(
        `POST /v2/models/iris/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${INFER.length}\r\n\r\n{`,
      );
      return socket;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const during = await fetch(`${listening.url}/v2/models/iris/infer`, {
      method: 'POST',
      body: INFER,
      headers: { 'content-type': 'application/json' },
    });
    if (during.status !== 200) report.failures.push(`with 8 stalled inference bodies open, an inference answered ${during.status}`);
    for (const socket of stalled) socket.destroy();
    // Afterwards the server answers a plain request as usual.
    const after = await fetch(`${listening.url}/v2/models/iris/infer`, {
      method: 'POST',
      body: INFER,
      headers: { 'content-type': 'application/json' },
    });
    if (after.status !== 200) report.failures.push(`after the run, an inference answered ${after.status}`);
  } finally {
    console.error = consoleError;
    await listening.close();
    await server.close();
  }
  return report;
}
