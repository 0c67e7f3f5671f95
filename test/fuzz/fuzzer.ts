/**
 * The contract fuzzer: sends generated requests (requests.ts) to an in-process server
 * (createModelServer, auth on, test controls on, its own temporary data directory) and checks
 * each answer against openapi.yaml:
 *
 * - no 5xx, except a 503 the operation declares (load shedding, a model not ready);
 * - no crash: the handler always answers, nothing is thrown, rejected or left unhandled;
 * - the status is declared for the operation, or is one of the cross-cutting 401, 403, 404, 405,
 *   413, 415, 429 (counted apart, so the spec can be completed);
 * - every error is the Error body with `request_id` equal to `x-request-id`; 2xx JSON bodies (and
 *   the JSON header of binary inference bodies) match the declared schema; 429/503 carry
 *   Retry-After; a request without a valid key gets 401, and a key without the scope 403;
 * - a key restricted to one model never succeeds on a request that names another (in its path,
 *   query or body), and never sees another in a 2xx answer;
 * - no case stalls the event loop beyond STALL_BUDGET_MS or raises resident memory beyond
 *   MEMORY_BUDGET_MB while it is answered (the server's own vitals, GET /_mock/vitals).
 *
 * Housekeeping between cases goes through the server's state, not HTTP: injected faults are
 * cleared at once, training jobs cancelled, and the inference key re-created after a reset.
 */
import fc from 'fast-check';
import { createModelServer } from '../../mock-server/server/create-server';
import { ResponseValidator } from '../../mock-server/contract/response-validation';
import { RESTRICTED_TO, caseArbitrary, describeCase, materialize, modelsNamedBy, type FuzzCase, type LiveIds, type Wire } from './requests';

export const CROSS_CUTTING = [401, 403, 404, 405, 413, 415, 429] as const;

export interface FuzzOptions {
  runs: number;
  seed: number;
  /** Stop generating after this long (the long run's budget); default none. */
  timeLimitMs?: number;
  log?: (line: string) => void;
}

export interface FuzzFailure {
  kind: 'server-error' | 'crash' | 'schema' | 'status' | 'auth' | 'hang' | 'stall' | 'memory' | 'fuzzer';
  case: string;
  problems: string[];
}

export interface FuzzReport {
  seed: number;
  runs: number;
  /** Operations in openapi.yaml (each gets the same share of cases). */
  operations: number;
  /** Requests the handler answered (cases fetch refused to build are not sent). */
  requests: number;
  /** Cases the fetch API refused to build (CR/LF/NUL in a header value). */
  refusedByFetch: number;
  durationMs: number;
  statuses: Record<string, number>;
  byVariant: Record<string, number>;
  byOperation: Record<string, { sent: number; success: number; statuses: Record<string, number> }>;
  serverErrors: number;
  shed503: number;
  crashes: number;
  schemaViolations: number;
  hangs: number;
  /** Cases during which the event loop stalled beyond STALL_BUDGET_MS, or memory rose beyond MEMORY_BUDGET_MB. */
  stalls: number;
  memoryBlowups: number;
  /** The largest event-loop delay and RSS growth any one case caused. */
  worst: { loopDelayMs: number; rssGrowthMb: number };
  /** `operationId status` → count: cross-cutting statuses the operation does not declare. */
  undeclaredCrossCutting: Record<string, number>;
  failures: FuzzFailure[];
  /** Unhandled rejections and uncaught exceptions seen in the process during the run. */
  processErrors: string[];
  finalHealth: { ready: number; infer: number };
  /** The slowest cases (building, sending and reading), for keeping the run short. */
  slowest: { case: string; ms: number }[];
}

const HANDLER_TIMEOUT_MS = 30_000;
/** The budgets of issue #18's attack tests, per case: nothing the fuzzer sends may exceed them. */
const STALL_BUDGET_MS = 1000;
const MEMORY_BUDGET_MB = 512;
const FUZZ_LIMITS = { maxBodyBytes: 4 * 1024 * 1024, maxUploadBytes: 8 * 1024 * 1024 };

export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const log = options.log ?? (() => undefined);
  const started = performance.now();
  // Checked here with the cross-cutting allowance, not by the server's own (strict) hook.
  const server = await createModelServer({ auth: true, mockControls: true, validateResponses: false, ...FUZZ_LIMITS });
  const { state, handler } = server;
  const contract = state.contract;
  const validator = new ResponseValidator(contract);
  const restrictedKey = async () =>
    (
      await state.keys.create({
        name: 'fuzz-restricted',
        scopes: ['inference', 'models:read', 'models:write', 'training'],
        models: [RESTRICTED_TO],
      })
    ).secret;
  const keys = {
    admin: server.adminKey,
    inference: (await state.keys.create({ name: 'fuzz-inference', scopes: ['inference'] })).secret,
    restricted: await restrictedKey(),
  };
  let live: LiveIds = {};

  const report: FuzzReport = {
    seed: options.seed,
    runs: 0,
    operations: 0,
    requests: 0,
    refusedByFetch: 0,
    durationMs: 0,
    statuses: {},
    byVariant: {},
    byOperation: {},
    serverErrors: 0,
    shed503: 0,
    crashes: 0,
    schemaViolations: 0,
    hangs: 0,
    stalls: 0,
    memoryBlowups: 0,
    worst: { loopDelayMs: 0, rssGrowthMb: 0 },
    undeclaredCrossCutting: {},
    failures: [],
    processErrors: [],
    finalHealth: { ready: 0, infer: 0 },
    slowest: [],
  };
  const fail = (kind: FuzzFailure['kind'], c: string, problems: string[]) => {
    if (kind === 'crash') report.crashes += 1;
    if (kind === 'hang') report.hangs += 1;
    if (kind === 'schema' || kind === 'status') report.schemaViolations += 1;
    if (kind === 'server-error') report.serverErrors += 1;
    if (kind === 'stall') report.stalls += 1;
    if (kind === 'memory') report.memoryBlowups += 1;
    report.failures.push({ kind, case: c, problems });
    log(`FAIL ${kind}: ${c}\n    ${problems.join('\n    ')}`);
  };
  const onProcessError = (error: unknown) => {
    report.processErrors.push(String((error as Error)?.stack ?? error));
    report.crashes += 1;
  };
  process.on('unhandledRejection', onProcessError);
  process.on('uncaughtException', onProcessError);

  const { arbitrary, operations } = await caseArbitrary(contract);
  report.operations = operations.length;

  async function send(c: FuzzCase): Promise<void> {
    report.runs += 1;
    let wire: Wire;
    let request: Request;
    try {
      wire = materialize(c, live, keys);
    } catch (error) {
      fail('fuzzer', describeCase(c), [`could not build the request: ${(error as Error).stack}`]);
      return;
    }
    const described = describeCase(c, wire);
    try {
      request = new Request(wire.url, { method: wire.method, headers: wire.headers, body: wire.body });
    } catch {
      report.refusedByFetch += 1; // e.g. CR/LF in a header value: fetch never sends it
      return;
    }
    const pathname = new URL(request.url).pathname;
    const matched = contract.match(request.method, pathname);
    const operation = matched.operation;
    const variant = `${c.base.source}${c.mutation ? `:${c.mutation.m}` : ''}`;
    report.byVariant[variant] = (report.byVariant[variant] ?? 0) + 1;

    let response: Response;
    state.vitals.reset();
    try {
      response = await withTimeout(handler(request), HANDLER_TIMEOUT_MS);
    } catch (error) {
      if (error instanceof TimeoutError) fail('hang', described, [`no answer within ${HANDLER_TIMEOUT_MS} ms`]);
      else fail('crash', described, [`the handler threw: ${(error as Error)?.stack ?? error}`]);
      return;
    }
    report.requests += 1;
    const { status } = response;
    report.statuses[status] = (report.statuses[status] ?? 0) + 1;
    const opId = operation?.operationId ?? '(no route)';
    const stats = (report.byOperation[opId] ??= { sent: 0, success: 0, statuses: {} });
    stats.sent += 1;
    stats.statuses[status] = (stats.statuses[status] ?? 0) + 1;
    if (status < 300) stats.success += 1;

    let body: Uint8Array | undefined;
    try {
      body = await readBody(response);
    } catch (error) {
      fail(error instanceof TimeoutError ? 'hang' : 'crash', described, [`reading the body failed: ${(error as Error).message}`]);
      return;
    }
    checkVitals(described);

    if (status >= 500) {
      const declared = operation && contract.responseSpec(operation.operationId, status);
      if (status === 503 && declared) report.shed503 += 1;
      else fail('server-error', described, [`status ${status}: ${text(body).slice(0, 300)}`]);
    }
    // (An undeclared 5xx is already a server error; it is not counted again as a status violation.)
    const problems = validator.check(
      operation,
      { status, headers: response.headers, body },
      { alsoAllowed: status >= 500 ? [...CROSS_CUTTING, status] : CROSS_CUTTING },
    );
    if (problems.length)
      fail(problems.some((p) => p.startsWith('status ')) ? 'status' : 'schema', described, [
        ...problems,
        `body: ${text(body).slice(0, 300)}`,
      ]);
    if (operation && !contract.responseSpec(operation.operationId, status) && (CROSS_CUTTING as readonly number[]).includes(status)) {
      const key = `${operation.operationId} ${status}`;
      report.undeclaredCrossCutting[key] = (report.undeclaredCrossCutting[key] ?? 0) + 1;
    }
    checkAuth(c, operation, status, described, body);
    checkRestriction(c, operation?.operationId, 'params' in matched ? matched.params : {}, status, described, wire, body);
    await housekeeping(c, operation?.operationId, status, body);
  }

  function checkAuth(
    c: FuzzCase,
    operation: ReturnType<typeof contract.match>['operation'],
    status: number,
    described: string,
    body: Uint8Array | undefined,
  ): void {
    if (!operation?.scopes?.length) return;
    if (c.mutation?.m === 'header' && c.mutation.name === 'authorization') return;
    if ((c.auth === 'none' || c.auth === 'bad') && status !== 401)
      fail('auth', described, [`expected 401 without a valid key, got ${status}: ${text(body).slice(0, 200)}`]);
    if (c.auth === 'inference' && !operation.scopes.includes('inference') && status !== 403)
      fail('auth', described, [`expected 403 for a key without ${operation.scopes.join(' or ')}, got ${status}`]);
    if (c.auth === 'admin' && (status === 401 || status === 403))
      fail('auth', described, [`the admin key got ${status}: ${text(body).slice(0, 200)}`]);
  }

  function checkVitals(described: string): void {
    const vitals = state.vitals.read();
    const delay = vitals.event_loop_delay_ms.max;
    const growthMb = (vitals.peak_rss_bytes - vitals.rss_at_start_bytes) / (1024 * 1024);
    report.worst.loopDelayMs = Math.max(report.worst.loopDelayMs, delay);
    report.worst.rssGrowthMb = Math.max(report.worst.rssGrowthMb, Math.round(growthMb));
    if (delay > STALL_BUDGET_MS) fail('stall', described, [`the event loop stalled ${delay} ms (budget ${STALL_BUDGET_MS} ms)`]);
    if (growthMb > MEMORY_BUDGET_MB)
      fail('memory', described, [`resident memory rose ${Math.round(growthMb)} MB while answering (budget ${MEMORY_BUDGET_MB} MB)`]);
  }

  /** A key restricted to one model: nothing it names outside that model succeeds, and no 2xx shows another. */
  function checkRestriction(
    c: FuzzCase,
    operationId: string | undefined,
    pathParams: Record<string, string>,
    status: number,
    described: string,
    wire: Wire,
    body: Uint8Array | undefined,
  ): void {
    if (c.auth !== 'restricted' || status >= 300 || !operationId) return;
    const url = new URL(wire.url);
    const sent = wire.body instanceof Uint8Array ? parseJson(text(wire.body)) : undefined;
    const outside = modelsNamedBy(operationId, pathParams, url.searchParams, sent).filter((m) => m !== RESTRICTED_TO);
    if (outside.length)
      fail('auth', described, [`a key restricted to '${RESTRICTED_TO}' got ${status} for a request naming ${outside.join(', ')}`]);
    const seen = modelsShownBy(operationId, parseJson(text(body))).filter((m) => m !== RESTRICTED_TO);
    if (seen.length) fail('auth', described, [`a key restricted to '${RESTRICTED_TO}' was shown ${[...new Set(seen)].join(', ')}`]);
  }

  const internalReported = new Set<string>();
  async function housekeeping(c: FuzzCase, operationId: string | undefined, status: number, body: Uint8Array | undefined): Promise<void> {
    if (status >= 300 || !operationId) return;
    const json = () => {
      try {
        return JSON.parse(text(body)) as Record<string, any>;
      } catch {
        return {};
      }
    };
    // A background job (an evaluation) that failed with an internal error is a server error that no
    // status shows: it counts once per job.
    for (const id of internalFailures(json())) {
      if (internalReported.has(id)) continue;
      internalReported.add(id);
      fail('server-error', `${operationId}: job ${id}`, ['failed with failure.reason internal', text(body).slice(0, 300)]);
    }
    switch (operationId) {
      case 'createFault':
        state.faults.clear(); // never let an injected fault answer the requests that follow
        break;
      case 'createTrainingJob':
        live.job = json().id;
        if (live.job) await state.training.cancel(live.job).catch(() => undefined);
        break;
      case 'createApiKey':
        live.key = json().id;
        break;
      case 'createEvaluation':
        live.evaluation = json().id;
        break;
      case 'createDataset':
        live.dataset = json().name;
        break;
      case 'resetMock':
        live = { job: live.job };
        keys.inference = (await state.keys.create({ name: 'fuzz-inference', scopes: ['inference'] })).secret;
        keys.restricted = await restrictedKey();
        break;
    }
    void c;
  }

  log(`contract fuzz: seed ${options.seed}, ${options.runs} runs`);
  await fc.assert(
    fc.asyncProperty(arbitrary, async (c) => {
      const t0 = performance.now();
      await send(c);
      const ms = performance.now() - t0;
      if (report.slowest.length < 10 || ms > report.slowest.at(-1)!.ms) {
        report.slowest.push({ case: describeCase(c), ms: Math.round(ms) });
        report.slowest.sort((a, b) => b.ms - a.ms).splice(10);
      }
      if (report.runs % 250 === 0)
        log(
          `  ${report.runs} cases, ${report.requests} requests, ${report.failures.length} failures, ${Math.round(performance.now() - started)} ms`,
        );
      return true;
    }),
    {
      seed: options.seed,
      numRuns: options.runs,
      ...(options.timeLimitMs ? { interruptAfterTimeLimit: options.timeLimitMs, markInterruptAsFailure: false } : {}),
    },
  );

  // Afterwards the server still works: reset, ready, and a real prediction.
  state.faults.clear();
  await server.handler(new Request('http://fuzz.test/_mock/reset', { method: 'POST', headers: { authorization: `Bearer ${keys.admin}` } }));
  report.finalHealth.ready = (await handler(new Request('http://fuzz.test/v2/health/ready'))).status;
  report.finalHealth.infer = (
    await handler(
      new Request('http://fuzz.test/v2/models/iris/infer', {
        method: 'POST',
        headers: { authorization: `Bearer ${keys.admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ inputs: [{ name: 'features', shape: [1, 4], datatype: 'FP32', data: [5.1, 3.5, 1.4, 0.2] }] }),
      }),
    )
  ).status;

  process.off('unhandledRejection', onProcessError);
  process.off('uncaughtException', onProcessError);
  await server.close();
  report.durationMs = Math.round(performance.now() - started);
  return report;
}

/** Reads a body; event streams only briefly (a live job's stream stays open), then cancelled. */
async function readBody(response: Response): Promise<Uint8Array | undefined> {
  if (!response.body) return undefined;
  if (response.headers.get('content-type')?.startsWith('text/event-stream')) {
    const reader = response.body.getReader();
    await withTimeout(reader.read(), 1000).catch(() => undefined);
    await reader.cancel().catch(() => undefined);
    return undefined;
  }
  return new Uint8Array(await withTimeout(response.arrayBuffer(), HANDLER_TIMEOUT_MS));
}

class TimeoutError extends Error {}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

function parseJson(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return undefined;
  }
}

/** Where answers list models by `name` rather than in a `model` field. */
const MODELS_BY_NAME: Record<string, (body: any) => unknown[]> = {
  listModels: (body) => body?.data ?? [],
  repositoryIndex: (body) => (Array.isArray(body) ? body : []),
  modelsStatistics: (body) => body?.model_stats ?? [],
  getModel: (body) => [body],
  createModel: (body) => [body],
  updateModel: (body) => [body],
};

/** Every model a JSON answer shows: `model` fields anywhere, and the listed models' `name`s. */
function modelsShownBy(operationId: string, value: unknown): string[] {
  const shown: string[] = [];
  for (const item of MODELS_BY_NAME[operationId]?.(value) ?? []) {
    const name = (item as { name?: unknown } | null)?.name;
    if (typeof name === 'string') shown.push(name);
  }
  const walk = (node: unknown, depth: number) => {
    if (depth > 8 || node === null || typeof node !== 'object') return;
    if (Array.isArray(node)) return node.forEach((v) => walk(v, depth + 1));
    for (const [k, v] of Object.entries(node)) {
      if (k === 'model' && typeof v === 'string') shown.push(v);
      else walk(v, depth + 1);
    }
  };
  walk(value, 0);
  return shown;
}

function text(body: Uint8Array | undefined): string {
  return body ? new TextDecoder().decode(body) : '';
}

/** The report as lines for a console or RELIABILITY.md. */
export function summarize(report: FuzzReport): string[] {
  const byStatus = Object.entries(report.statuses)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([s, n]) => `${s}: ${n}`)
    .join(', ');
  const operations = Object.entries(report.byOperation).filter(([id]) => id !== '(no route)');
  const withSuccess = operations.filter(([, s]) => s.success > 0).length;
  const undeclared =
    Object.entries(report.undeclaredCrossCutting)
      .map(([k, n]) => `${k} (${n})`)
      .join(', ') || 'none';
  return [
    `seed ${report.seed}: ${report.runs} cases, ${report.requests} requests answered, ${report.refusedByFetch} refused by fetch before sending, ${(report.durationMs / 1000).toFixed(1)} s`,
    `statuses: ${byStatus}`,
    `operations reached: ${operations.length} of ${report.operations} (${withSuccess} with a 2xx); unmatched routes: ${report.byOperation['(no route)']?.sent ?? 0}`,
    `5xx other than declared 503: ${report.serverErrors}; declared 503s: ${report.shed503}; crashes: ${report.crashes}; hangs: ${report.hangs}; schema/status violations: ${report.schemaViolations}; failures: ${report.failures.length}`,
    `event-loop stalls over ${STALL_BUDGET_MS} ms: ${report.stalls}; memory rises over ${MEMORY_BUDGET_MB} MB: ${report.memoryBlowups}; worst case: ${report.worst.loopDelayMs} ms, ${report.worst.rssGrowthMb} MB`,
    `cross-cutting statuses not declared by the operation: ${undeclared}`,
    `after the run: /v2/health/ready ${report.finalHealth.ready}, iris infer ${report.finalHealth.infer}`,
  ];
}

/** Ids of jobs in a response body (one job, or a page of them) whose failure reason is `internal`. */
function internalFailures(value: unknown, depth = 0): string[] {
  if (!value || typeof value !== 'object' || depth > 3) return [];
  if (Array.isArray(value)) return value.flatMap((v) => internalFailures(v, depth + 1));
  const record = value as Record<string, unknown>;
  const failure = record.failure as { reason?: unknown } | undefined;
  if (failure?.reason === 'internal') return [String(record.id)];
  return Object.values(record).flatMap((v) => internalFailures(v, depth + 1));
}
