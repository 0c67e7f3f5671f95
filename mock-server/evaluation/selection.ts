/**
 * Model selection: which version of which model should serve a task, judged on figures measured
 * now on this server (latency always; accuracy on a dataset whenever one applies), with every
 * candidate's figures, where each came from, and each check it passed or failed.
 */
import type { components } from 'modelport';
import type { Datatype } from 'modelport';
import { badRequest } from '../http/errors';
import type { ModelManager, ServedVersion } from '../serving/version-service';
import { tfDtypeOf, type HostTensor } from '../runtime/tensors';
import type { TensorSpec } from '../registry/model-config';
import { DEFAULT_JUDGING_DATASETS, type DatasetData } from '../datasets/datasets';
import { argmax } from './metrics';
import { artifactBytes, datasetSamples, measureLatency, planInput, runPass, type InputPlan } from './engine';
import type { Lab } from './lab';

type Schemas = components['schemas'];
export type SelectionRequest = Schemas['SelectionRequest'];
export type Selection = Schemas['Selection'];
type Candidate = Schemas['SelectionCandidate'];
type Check = Schemas['ConstraintCheck'];
type SignatureInput = Schemas['SignatureInput'];

export const DEFAULT_SELECTION_LATENCY_SAMPLES = 50;
const PASS_BATCH_SIZE = 250;

interface Work {
  served: ServedVersion;
  candidate: Candidate;
  plan?: InputPlan;
  runnable: boolean;
}

/** `candidate` says which models may be candidates (the caller's, when its key is restricted to some). */
export async function selectModel(
  lab: Lab,
  models: ModelManager,
  request: SelectionRequest,
  candidate: (model: string) => boolean = () => true,
): Promise<Selection> {
  if (!request.inputs && !request.example) {
    throw badRequest('say what the model takes: an input signature (inputs) or an example input (example)', [
      { path: '/inputs', message: 'is required unless example is given' },
    ]);
  }
  const signature = signatureOf(request);
  const example = request.example ? exampleTensor(request.example) : undefined;
  const data = await judgingDataset(lab, request, signature);
  const constraints = request.constraints ?? {};
  const objective = request.objective ?? 'accuracy';
  const latencySamples = request.latency_samples ?? DEFAULT_SELECTION_LATENCY_SAMPLES;

  const work: Work[] = [];
  for (const name of models.modelNames().filter((n) => candidate(n) && models.config(n).task === request.task)) {
    for (const served of models.versions(name)) {
      const candidate: Candidate = {
        model: name,
        version: served.info.version,
        eligible: false,
        rank: null,
        accuracy: null,
        macro_f1: null,
        latency_ms: null,
        size_bytes: null,
        sources: { accuracy: { kind: 'none' }, latency: { kind: 'none' }, size: { kind: 'none' } },
        checks: [],
        excluded_by: [],
      };
      const mismatch = signatureMismatch(signature, served.config.inputs);
      candidate.checks.push({ constraint: 'signature', passed: !mismatch, message: mismatch ?? 'inputs match' });
      const ready = served.state === 'READY';
      candidate.checks.push({
        constraint: 'ready',
        passed: ready,
        message: ready ? 'loaded' : `not loaded (${served.reason ?? served.state.toLowerCase()})`,
      });
      let plan: InputPlan | undefined;
      if (data && !mismatch) {
        const planned = planInput(served, data);
        plan = planned.plan;
        candidate.checks.push({
          constraint: 'dataset',
          passed: Boolean(plan),
          message: plan ? `runs on dataset '${data.info.name}'` : planned.problems.map((p) => p.message).join('; '),
        });
      }
      work.push({ served, candidate, ...(plan ? { plan } : {}), runnable: !mismatch && ready && (!data || Boolean(plan)) });
    }
  }

  // One measurement at a time on this server: evaluation jobs and other selections wait.
  await lab.measurements.run(async () => {
    for (const item of work) {
      item.candidate.size_bytes = await artifactBytes(models.repository.versionDir(item.served.name, item.served.version)).catch(
        () => null,
      );
      if (item.candidate.size_bytes !== null) item.candidate.sources.size = { kind: 'disk' };
    }
    const runnable = work.filter((w) => w.runnable);
    for (const item of runnable) {
      try {
        if (data && item.plan) {
          const pass = await runPass(item.served, data, item.plan, PASS_BATCH_SIZE, () => {});
          item.candidate.accuracy = pass.report.accuracy;
          item.candidate.macro_f1 = pass.report.macro.f1;
          item.candidate.sources.accuracy = { kind: 'dataset', dataset: data.info.name, samples: pass.report.samples };
        } else {
          recordedAccuracy(lab, item);
        }
        if (example) item.candidate.example_output = topClass(item.served, await item.served.infer([example]));
      } catch (error) {
        unrunnable(item, error as Error);
      }
    }
    const measured = runnable.filter((w) => w.runnable);
    const latencies = await measureLatency(
      measured.map((item) => ({
        served: item.served,
        count: latencySamples,
        sample: latencySource(item, data, example),
      })),
    );
    latencies.forEach((latency, i) => {
      const item = measured[i]!;
      if (latency instanceof Error) return unrunnable(item, latency);
      item.candidate.latency_ms = { p50: latency.p50, p95: latency.p95, samples: latency.samples };
      item.candidate.sources.latency = { kind: 'measured', samples: latency.samples };
    });
  });

  for (const { candidate } of work) {
    if (candidate.checks.every((c) => c.passed)) candidate.checks.push(...constraintChecks(candidate, constraints));
    candidate.excluded_by = candidate.checks.filter((c) => !c.passed).map((c) => c.constraint);
    candidate.eligible = candidate.excluded_by.length === 0;
  }
  const eligible = work
    .map((w) => w.candidate)
    .filter((c) => c.eligible)
    .sort(RANKING[objective]);
  eligible.forEach((c, i) => {
    c.rank = i + 1;
  });
  const excluded = work
    .map((w) => w.candidate)
    .filter((c) => !c.eligible)
    .sort(byName);
  const chosen = eligible[0];
  return {
    task: request.task,
    objective,
    constraints,
    dataset: data?.info.name ?? null,
    chosen: chosen ? { model: chosen.model, version: chosen.version } : null,
    explanation: explain(request.task, objective, chosen, eligible.length, excluded),
    candidates: [...eligible, ...excluded],
  };
}

/** The requested signature, from `inputs` or from the example (its batch dimension made variable). */
function signatureOf(request: SelectionRequest): SignatureInput[] {
  const fromExample = request.example
    ? [{ datatype: request.example.datatype ?? 'FP32', shape: [-1, ...request.example.shape.slice(1)] }]
    : undefined;
  if (request.inputs && fromExample) {
    const mismatch = signatureMismatch(
      request.inputs,
      fromExample.map((s, i) => ({ name: request.inputs![i]?.name ?? `input ${i}`, ...s })) as TensorSpec[],
    );
    if (mismatch)
      throw badRequest(`the example does not fit the given inputs: ${mismatch}`, [
        { path: '/example', message: `does not fit /inputs: ${mismatch}` },
      ]);
  }
  return request.inputs ?? fromExample!;
}

/** Why a version's inputs do not match the signature, or undefined when they do. */
function signatureMismatch(signature: SignatureInput[], inputs: TensorSpec[]): string | undefined {
  if (signature.length !== inputs.length)
    return `takes ${inputs.length} input${inputs.length === 1 ? '' : 's'}; the signature has ${signature.length}`;
  for (const [i, wanted] of signature.entries()) {
    const input = inputs[i]!;
    if (wanted.name !== undefined && wanted.name !== input.name) return `input ${i} is '${input.name}', not '${wanted.name}'`;
    if (wanted.datatype !== input.datatype) return `input '${input.name}' is ${input.datatype}, not ${wanted.datatype}`;
    const fits =
      wanted.shape.length === input.shape.length && wanted.shape.every((d, j) => d === -1 || input.shape[j] === -1 || d === input.shape[j]);
    if (!fits) return `input '${input.name}' has shape [${input.shape}], not [${wanted.shape}]`;
  }
  return undefined;
}

function exampleTensor(example: NonNullable<SelectionRequest['example']>): HostTensor {
  const count = example.shape.reduce((n, d) => n * d, 1);
  if (example.data.length !== count) {
    throw badRequest(
      `the example's shape [${example.shape}] needs ${count} elements; data has ${example.data.length}`,
      [{ path: '/example/data', message: `expected ${count} elements for shape [${example.shape}], received ${example.data.length}` }],
      'data_length_mismatch',
    );
  }
  const datatype = (example.datatype ?? 'FP32') as Datatype;
  const dtype = tfDtypeOf(datatype);
  if (dtype !== 'float32' && dtype !== 'int32')
    throw badRequest(
      `example inputs are numbers; ${datatype} is not supported here`,
      [{ path: '/example/datatype', message: 'must be a numeric datatype' }],
      'unsupported_input',
    );
  if (dtype === 'int32' && !example.data.every(Number.isInteger))
    throw badRequest(
      `a ${datatype} example holds integers`,
      [{ path: '/example/data', message: 'must be integers' }],
      'invalid_tensor_data',
    );
  return {
    datatype,
    dtype,
    shape: example.shape,
    values: dtype === 'float32' ? Float32Array.from(example.data) : Int32Array.from(example.data),
  };
}

/**
 * The dataset accuracy is judged on: the one asked for, else the held-out built-in whose task is
 * the task and whose sample shape fits the (single-input) signature, else none.
 */
async function judgingDataset(lab: Lab, request: SelectionRequest, signature: SignatureInput[]): Promise<DatasetData | undefined> {
  if (request.dataset !== undefined) return lab.datasets.load(request.dataset);
  if (signature.length !== 1) return undefined;
  const dims = signature[0]!.shape.slice(1);
  const name = DEFAULT_JUDGING_DATASETS.find((candidate) => {
    const info = lab.datasets.info(candidate);
    return info.task === request.task && info.shape.length === dims.length && dims.every((d, i) => d === -1 || d === info.shape[i]);
  });
  return name ? lab.datasets.load(name) : undefined;
}

/** Without a dataset: the version's newest stored evaluation, else the metrics in its version.json. */
function recordedAccuracy(lab: Lab, item: Work): void {
  const newest = lab.jobs.summaries(item.served)[0];
  if (newest) {
    item.candidate.accuracy = newest.accuracy;
    item.candidate.macro_f1 = newest.macro_f1;
    item.candidate.sources.accuracy = {
      kind: 'evaluation',
      evaluation_id: newest.evaluation_id,
      dataset: newest.dataset,
      samples: newest.samples,
    };
    return;
  }
  const metrics = item.served.info.metrics ?? {};
  if (typeof metrics.accuracy !== 'number') return;
  item.candidate.accuracy = metrics.accuracy;
  item.candidate.macro_f1 = typeof metrics.macro_f1 === 'number' ? metrics.macro_f1 : null;
  item.candidate.sources.accuracy = {
    kind: 'version_metrics',
    ...(typeof metrics.dataset === 'string' ? { dataset: metrics.dataset } : {}),
    ...(typeof metrics.samples === 'number' ? { samples: metrics.samples } : {}),
  };
}

/** What the timed single-sample requests send: dataset samples (cycled), else the example, else zeros. */
function latencySource(item: Work, data: DatasetData | undefined, example: HostTensor | undefined): (i: number) => HostTensor[] {
  if (data && item.plan) {
    const samples = datasetSamples(data, item.plan);
    return (i) => samples(i % data.info.samples);
  }
  if (example) {
    const rows = example.shape[0] ?? 1;
    const first = {
      ...example,
      shape: [1, ...example.shape.slice(1)],
      values: (example.values as Float32Array).slice(0, (example.values as Float32Array).length / rows),
    };
    return () => [first];
  }
  return () => item.served.config.inputs.map((spec) => zeros(spec));
}

function zeros(spec: TensorSpec): HostTensor {
  const shape = [1, ...spec.shape.slice(1).map((d) => (d < 0 ? 1 : d))];
  const count = shape.reduce((n, d) => n * d, 1);
  const dtype = tfDtypeOf(spec.datatype);
  return {
    datatype: spec.datatype,
    dtype,
    shape,
    values: dtype === 'float32' ? new Float32Array(count) : dtype === 'bool' ? new Uint8Array(count) : new Int32Array(count),
  };
}

function topClass(served: ServedVersion, outputs: { shape: number[]; values: unknown }[]): Candidate['example_output'] {
  const first = outputs[0];
  const values = first?.values as Float32Array | undefined;
  if (!first || !values || Array.isArray(values) || first.shape.length !== 2) return undefined;
  const classes = first.shape[1]!;
  const index = argmax(values, 0, classes);
  const label = served.config.labels?.[index];
  return { index, ...(label !== undefined ? { label } : {}), score: values[index]! };
}

function unrunnable(item: Work, error: Error): void {
  item.runnable = false;
  item.candidate.checks.push({ constraint: 'ready', passed: false, message: `failed while being measured: ${error.message}` });
}

function constraintChecks(candidate: Candidate, constraints: Schemas['SelectionConstraints']): Check[] {
  const checks: Check[] = [];
  const accuracy = candidate.accuracy;
  if (constraints.min_accuracy !== undefined) {
    const limit = constraints.min_accuracy;
    checks.push(
      accuracy === null
        ? { constraint: 'min_accuracy', passed: false, value: null, limit, message: `no accuracy figure to compare with ${limit}` }
        : {
            constraint: 'min_accuracy',
            passed: accuracy >= limit,
            value: accuracy,
            limit,
            message: `accuracy ${fmt(accuracy)} ${accuracy >= limit ? '>=' : '<'} ${limit}`,
          },
    );
  }
  if (constraints.max_p95_latency_ms !== undefined) {
    const limit = constraints.max_p95_latency_ms;
    const p95 = candidate.latency_ms?.p95 ?? null;
    checks.push(
      p95 === null
        ? { constraint: 'max_p95_latency_ms', passed: false, value: null, limit, message: 'latency could not be measured' }
        : {
            constraint: 'max_p95_latency_ms',
            passed: p95 <= limit,
            value: p95,
            limit,
            message: `p95 latency ${p95} ms ${p95 <= limit ? '<=' : '>'} ${limit} ms`,
          },
    );
  }
  if (constraints.max_size_bytes !== undefined) {
    const limit = constraints.max_size_bytes;
    const size = candidate.size_bytes;
    checks.push(
      size === null
        ? { constraint: 'max_size_bytes', passed: false, value: null, limit, message: 'size unknown' }
        : {
            constraint: 'max_size_bytes',
            passed: size <= limit,
            value: size,
            limit,
            message: `size ${size} bytes ${size <= limit ? '<=' : '>'} ${limit} bytes`,
          },
    );
  }
  return checks;
}

const accuracyOf = (c: Candidate) => c.accuracy ?? -Infinity;
const p95Of = (c: Candidate) => c.latency_ms?.p95 ?? Infinity;
const sizeOf = (c: Candidate) => c.size_bytes ?? Infinity;
const byName = (a: Candidate, b: Candidate) => (a.model < b.model ? -1 : a.model > b.model ? 1 : a.version - b.version);

/** The objective first, then the documented tie-breaks, then name and version so the order is total. */
const RANKING: Record<'accuracy' | 'latency' | 'size', (a: Candidate, b: Candidate) => number> = {
  accuracy: (a, b) => accuracyOf(b) - accuracyOf(a) || p95Of(a) - p95Of(b) || sizeOf(a) - sizeOf(b) || byName(a, b),
  latency: (a, b) => p95Of(a) - p95Of(b) || accuracyOf(b) - accuracyOf(a) || sizeOf(a) - sizeOf(b) || byName(a, b),
  size: (a, b) => sizeOf(a) - sizeOf(b) || accuracyOf(b) - accuracyOf(a) || p95Of(a) - p95Of(b) || byName(a, b),
};

function explain(
  task: string,
  objective: 'accuracy' | 'latency' | 'size',
  chosen: Candidate | undefined,
  eligible: number,
  excluded: Candidate[],
): string {
  const who = (c: Candidate) => `${c.model} version ${c.version}`;
  const why = excluded.map((c) => `${who(c)} (${c.excluded_by.join(', ')})`).join('; ');
  if (!chosen) {
    return excluded.length ? `no candidate meets the constraints: ${why}` : `no model has task '${task}'`;
  }
  const figure =
    objective === 'accuracy'
      ? `the highest accuracy (${chosen.accuracy === null ? 'unknown' : fmt(chosen.accuracy)})`
      : objective === 'latency'
        ? `the lowest p95 latency (${chosen.latency_ms?.p95} ms)`
        : `the smallest size (${chosen.size_bytes} bytes)`;
  return `${who(chosen)} has ${figure} of the ${eligible} eligible candidate${eligible === 1 ? '' : 's'}${excluded.length ? `; excluded: ${why}` : ''}`;
}

function fmt(value: number): string {
  return String(Math.round(value * 1e4) / 1e4);
}
