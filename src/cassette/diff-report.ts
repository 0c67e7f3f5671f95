/** The drift report's shape (what `diffCassette` returns and `modelport cassette diff --json` prints), and its thresholds. */
import type { LabelFlip, OutputMismatch } from './diff-compare';

export interface DriftReport {
  /** The server the requests were re-sent to. */
  against: string;
  cassette: { recorded_at: string; upstream: string };
  /** The `model` option as given, or null when every request went to its recorded model and version. */
  model: string | null;
  models: ModelDrift[];
}

export interface ModelDrift {
  /** The model and version the recorded requests named (version null: the server's default then). */
  recorded: { name: string; version: string | null };
  /** Where they were sent now; `alias` when the version was resolved from one. */
  now: { name: string; version: string | null; alias?: string };
  /** The `model_version` of the answers now (what a default or an alias ended up on). */
  versions_now: string[];
  /** Recorded infer requests of this model. */
  requests: number;
  /** Requests answered with outputs both when recorded and now. */
  compared: number;
  /** Recorded requests whose recorded answer had no outputs (not re-sent, nothing to compare with). */
  not_compared: { seq: number; reason: string }[];
  /** Requests answered when recorded but not now: the status (null when there was no answer) and the error. */
  failed_now: { seq: number; status: number | null; error: string }[];
  outputs: OutputDrift[];
  /** Rows whose argmax changed, summed over the outputs. */
  label_flips: number;
  /** Latency of the compared requests, ms: recorded (the cassette's latency_ms) and now (from sending to the answer read). */
  latency_ms: { recorded: Percentiles; now: Percentiles };
}

export interface Percentiles {
  p50: number | null;
  p95: number | null;
}

export interface OutputDrift {
  name: string;
  /** Requests where this output had the same datatype and shape when recorded and now. */
  compared: number;
  elements: number;
  /** Elements not equal now. */
  changed_elements: number;
  /** max and mean |now − recorded| over the compared elements; null for BYTES outputs (equal or not, see changed_elements). */
  max_abs_delta: number | null;
  mean_abs_delta: number | null;
  /** Where max |Δ| is: the request, the flat element index, the values recorded and now. */
  worst?: { seq: number; index: number; recorded: string; now: string };
  /** Rows whose argmax over the last axis was compared (floating-point outputs of 2 classes or more), and how many changed (all in `flips`). */
  rows: number;
  label_flips: number;
  flips: LabelFlip[];
  /** Requests whose output had another datatype or shape now, or was missing on one side. */
  mismatches: OutputMismatch[];
}

export interface DriftThresholds {
  /** Most label flips a model may have. */
  maxFlips?: number | undefined;
  /** Largest max |Δ| an output may have; an output whose datatype or shape changed crosses it too. */
  maxDelta?: number | undefined;
  /** Most requests that may fail now; default 0. */
  maxFailures?: number | undefined;
}

/** Each threshold the report crosses, one sentence each naming the model, the output and the numbers; empty when within. */
export function crossedThresholds(report: DriftReport, thresholds: DriftThresholds = {}): string[] {
  const crossed: string[] = [];
  const maxFailures = thresholds.maxFailures ?? 0;
  for (const model of report.models) {
    const name = modelLabel(model);
    if (model.failed_now.length > maxFailures) {
      crossed.push(`${name}: ${model.failed_now.length} request(s) failed now, more than --max-failures ${maxFailures}`);
    }
    if (thresholds.maxFlips !== undefined && model.label_flips > thresholds.maxFlips) {
      crossed.push(`${name}: ${model.label_flips} label flip(s), more than --max-flips ${thresholds.maxFlips}`);
    }
    if (thresholds.maxDelta === undefined) continue;
    for (const output of model.outputs) {
      if (output.max_abs_delta !== null && output.max_abs_delta > thresholds.maxDelta) {
        crossed.push(`${name}: output '${output.name}' max |Δ| ${output.max_abs_delta} is above --max-delta ${thresholds.maxDelta}`);
      }
      if (output.mismatches.length > 0) {
        const first = output.mismatches[0]!;
        crossed.push(
          `${name}: output '${output.name}' differs in datatype or shape in ${output.mismatches.length} request(s) (seq ${first.seq}: ${first.recorded} recorded, ${first.now} now), beyond any --max-delta`,
        );
      }
    }
  }
  return crossed;
}

/** `digits@1 → digits-mlp` as the report's tables and messages name a model. */
export function modelLabel(model: Pick<ModelDrift, 'recorded' | 'now'>): string {
  const recorded = withVersion(model.recorded);
  const now = withVersion(model.now) + (model.now.alias ? ` (@${model.now.alias})` : '');
  return recorded === now ? recorded : `${recorded} → ${now}`;
}

function withVersion(model: { name: string; version: string | null }): string {
  return model.version === null ? model.name : `${model.name}@${model.version}`;
}
