/**
 * The drift report: every recorded infer request (POST /v2/models/<m>[/versions/<v>]/infer) re-sent
 * to a server as it was recorded (its content headers and query; a binary body byte for byte, a
 * JSON body value for value, which the cassette keeps exactly), to its recorded model and version
 * or to the `model` option's, and each answer's outputs compared with the recorded ones
 * (diff-compare.ts). A recorded answer without outputs (an error) is not re-sent. Browser-safe: fetch only.
 */
import { compareOutput, newAccumulator, percentile, type Labels, type OutputAccumulator } from './diff-compare';
import type { DriftReport, ModelDrift, OutputDrift } from './diff-report';
import { errorText, getJson, inPool, parseJson, resend, type ServerAccess } from './diff-send';
import { DiffError, parseTargetSpec, resolveTarget, type ResolvedTarget } from './diff-target';
import { inferPath, inferPathModel, metadataPath, type ModelRef } from './model-path';
import {
  RECORDED_RESPONSE_HEADERS,
  bodyFromBytes,
  bytesOfBody,
  parseCassette,
  pickHeaders,
  type Cassette,
  type Interaction,
} from './format';
import { decodeResponseTensors, type NamedTensor } from './tensors';

export interface DiffOptions {
  /** The server to re-send to, e.g. `http://127.0.0.1:8700`. */
  against: string;
  /** `name`, `name@version`, `name@alias` or `@alias`: where to send the recorded requests instead of their recorded model and version. */
  model?: string | undefined;
  /** Only the requests recorded on this model (needed with a `model` name when the cassette recorded several models). */
  from?: string | undefined;
  /** Sent as `Authorization: Bearer <apiKey>`. */
  apiKey?: string | undefined;
  /** Added to every request. */
  headers?: Record<string, string> | undefined;
  fetch?: typeof fetch | undefined;
  /** Requests in flight at once; default 1, so that latencies compare with a recording made one request at a time. */
  concurrency?: number | undefined;
  /** Each request's answer must arrive within this; default 30000 ms (then it counts as failed now). */
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
  /** Called as each recorded infer request is done with (re-sent and compared, or not comparable). */
  onProgress?: ((done: number, total: number) => void) | undefined;
}

interface Group {
  recorded: ModelRef;
  interactions: Interaction[];
  target?: ResolvedTarget;
  labels: Labels;
  drift?: ModelDrift;
  outputs: Map<string, OutputAccumulator>;
  latencyRecorded: number[];
  latencyNow: number[];
  versionsNow: Set<string>;
}

/** Re-sends a cassette's infer requests to `options.against` and reports, per model, what changed. */
export async function diffCassette(cassette: Cassette | string, options: DiffOptions): Promise<DriftReport> {
  const parsed = typeof cassette === 'string' ? parseCassette(cassette) : cassette;
  const access = serverAccess(options);
  const spec = options.model === undefined ? undefined : parseTargetSpec(options.model);
  const groups = groupInfers(parsed, options.from);
  if (spec?.name && new Set(groups.map((g) => g.recorded.name)).size > 1) {
    throw new DiffError(
      `model '${options.model}' would receive the requests of every recorded model (${describeGroups(groups)}): pass from (--from), the recorded model whose requests to send`,
    );
  }
  const aliases = new Map<string, Promise<string>>();
  for (const group of groups) {
    group.target = await resolveTarget(group.recorded, spec, access, aliases);
    group.labels = {
      recorded: labelsOf((group.interactions[0]!.model?.metadata ?? null) as unknown),
      now: await liveLabels(access, group.target),
    };
  }

  const work = groups.flatMap((group) => group.interactions.map((interaction) => ({ group, interaction })));
  let done = 0;
  await inPool(work, Math.max(1, Math.floor(options.concurrency ?? 1)), async ({ group, interaction }) => {
    await diffOne(group, interaction, access);
    options.onProgress?.(++done, work.length);
  });
  return {
    against: access.against,
    cassette: { recorded_at: parsed.header.recorded_at, upstream: parsed.header.upstream },
    model: options.model ?? null,
    models: groups.map(modelDrift),
  };
}

function serverAccess(options: DiffOptions): ServerAccess {
  let url: URL;
  try {
    url = new URL(options.against);
  } catch {
    throw new DiffError(`against '${options.against}' is not a URL (e.g. http://127.0.0.1:8700)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new DiffError(`against '${options.against}' is not an http(s) URL`);
  const headers: Record<string, string> = { ...options.headers };
  if (options.apiKey) headers.authorization = `Bearer ${options.apiKey}`;
  return {
    against: options.against.replace(/\/+$/, ''),
    fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
    headers,
    signal: options.signal,
    timeoutMs: options.timeoutMs ?? 30_000,
  };
}

/** The recorded infer requests, grouped by the model and version their path names, in order of first appearance. */
function groupInfers(cassette: Cassette, from: string | undefined): Group[] {
  const groups = new Map<string, Group>();
  for (const interaction of cassette.interactions) {
    if (interaction.request.method !== 'POST') continue;
    const recorded = inferPathModel(interaction.request.path);
    if (!recorded) continue;
    const key = JSON.stringify([recorded.name, recorded.version]);
    let group = groups.get(key);
    if (!group) {
      group = { recorded, interactions: [], labels: {}, outputs: new Map(), latencyRecorded: [], latencyNow: [], versionsNow: new Set() };
      groups.set(key, group);
    }
    group.interactions.push(interaction);
  }
  const all = [...groups.values()];
  if (all.length === 0) {
    throw new DiffError(`the cassette has no infer requests (POST /v2/models/<model>[/versions/<version>]/infer): nothing to re-send`);
  }
  if (from === undefined) return all;
  const picked = all.filter((g) => g.recorded.name === from);
  if (picked.length === 0)
    throw new DiffError(`from '${from}': the cassette recorded no infer request on it (it has ${describeGroups(all)})`);
  return picked;
}

function describeGroups(groups: Group[]): string {
  return groups
    .map((g) => `${g.recorded.name}${g.recorded.version === null ? '' : `@${g.recorded.version}`}: ${g.interactions.length}`)
    .join(', ');
}

function labelsOf(metadata: unknown): string[] | undefined {
  const labels = (metadata as { labels?: unknown } | null)?.labels;
  return Array.isArray(labels) && labels.every((l) => typeof l === 'string') ? labels : undefined;
}

/** The target's labels from its metadata now, if it has any; a failed read only leaves them out. */
async function liveLabels(access: ServerAccess, target: ModelRef): Promise<string[] | undefined> {
  const path = metadataPath(target);
  const answer = await getJson(access, path);
  return answer.status === 200 ? labelsOf(answer.json) : undefined;
}

async function diffOne(group: Group, interaction: Interaction, access: ServerAccess): Promise<void> {
  let recorded: NamedTensor[];
  try {
    if (interaction.response.status !== 200) throw new Error(`the recorded answer was status ${interaction.response.status}`);
    recorded = decodeResponseTensors(interaction.response).tensors;
  } catch (error) {
    group.drift ??= emptyDrift(group);
    group.drift.not_compared.push({ seq: interaction.seq, reason: (error as Error).message });
    return;
  }
  const drift = (group.drift ??= emptyDrift(group));
  const sent = await resend(access, inferPath(group.target!), interaction.request, bytesOfBody(interaction.request.body));
  if (!sent.answered) {
    drift.failed_now.push({ seq: interaction.seq, status: null, error: sent.error });
    return;
  }
  const headers = pickHeaders(sent.headers, RECORDED_RESPONSE_HEADERS);
  let now: NamedTensor[];
  let version: unknown;
  try {
    if (sent.status !== 200) {
      throw new Error(errorText({ text: new TextDecoder().decode(sent.bytes), json: parseJson(new TextDecoder().decode(sent.bytes)) }));
    }
    const decoded = decodeResponseTensors({ headers, body: bodyFromBytes(sent.bytes, headers) });
    now = decoded.tensors;
    version = decoded.header.model_version;
  } catch (error) {
    const reason = sent.status === 200 ? `the answer has no outputs to compare: ${(error as Error).message}` : (error as Error).message;
    drift.failed_now.push({ seq: interaction.seq, status: sent.status, error: reason });
    return;
  }
  drift.compared++;
  group.latencyRecorded.push(interaction.latency_ms);
  group.latencyNow.push(sent.elapsedMs);
  if (typeof version === 'string') group.versionsNow.add(version);
  const names = [...new Set([...recorded.map((t) => t.name), ...now.map((t) => t.name)])];
  for (const name of names) {
    let acc = group.outputs.get(name);
    if (!acc) group.outputs.set(name, (acc = newAccumulator(name)));
    compareOutput(
      acc,
      interaction.seq,
      recorded.find((t) => t.name === name),
      now.find((t) => t.name === name),
      group.labels,
    );
  }
}

function emptyDrift(group: Group): ModelDrift {
  const { name, version, alias } = group.target!;
  return {
    recorded: group.recorded,
    now: alias === undefined ? { name, version } : { name, version, alias },
    versions_now: [],
    requests: group.interactions.length,
    compared: 0,
    not_compared: [],
    failed_now: [],
    outputs: [],
    label_flips: 0,
    latency_ms: { recorded: { p50: null, p95: null }, now: { p50: null, p95: null } },
  };
}

/** The group's totals as the report shows them, every list in seq order (requests may have been answered out of order). */
function modelDrift(group: Group): ModelDrift {
  const drift = group.drift ?? emptyDrift(group);
  const bySeq = <T extends { seq: number }>(list: T[]) => list.sort((a, b) => a.seq - b.seq);
  const outputs: OutputDrift[] = [...group.outputs.values()].map((acc) => ({
    name: acc.name,
    compared: acc.compared,
    elements: acc.elements,
    changed_elements: acc.changed_elements,
    max_abs_delta: acc.max_abs_delta,
    mean_abs_delta: acc.measured === 0 ? null : acc.sumAbsDelta / acc.measured,
    ...(acc.worst ? { worst: acc.worst } : {}),
    rows: acc.rows,
    label_flips: acc.flips.length,
    flips: acc.flips.sort((a, b) => a.seq - b.seq || a.row - b.row),
    mismatches: bySeq(acc.mismatches),
  }));
  return {
    ...drift,
    versions_now: [...group.versionsNow].sort(),
    not_compared: bySeq(drift.not_compared),
    failed_now: bySeq(drift.failed_now),
    outputs,
    label_flips: outputs.reduce((sum, o) => sum + o.label_flips, 0),
    latency_ms: {
      recorded: { p50: percentile(group.latencyRecorded, 50), p95: percentile(group.latencyRecorded, 95) },
      now: { p50: percentile(group.latencyNow, 50), p95: percentile(group.latencyNow, 95) },
    },
  };
}
