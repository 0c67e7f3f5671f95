/** The drift report as people read it: per model a summary, a table of outputs, the first label flips and failures. */
import { modelLabel, type DriftReport, type ModelDrift } from 'modelport/cassette';
import { table } from '../output';

export function driftTable(report: DriftReport, cassette: string, examples: number): string {
  const lines = [`${cassette} (recorded ${report.cassette.recorded_at} on ${report.cassette.upstream}) against ${report.against}`];
  for (const model of report.models) lines.push('', ...modelSection(model, examples));
  return lines.join('\n');
}

function modelSection(model: ModelDrift, examples: number): string[] {
  const answeredBy = model.versions_now.length ? ` (answered by version ${model.versions_now.join(', ')})` : '';
  const { recorded, now } = model.latency_ms;
  const lines = [
    `${modelLabel(model)}${answeredBy}`,
    `  ${model.requests} requests: ${model.compared} compared, ${model.failed_now.length} failed now, ${model.not_compared.length} not compared; ${model.label_flips} label flip${model.label_flips === 1 ? '' : 's'}`,
    `  latency ms p50/p95: recorded ${ms(recorded.p50)}/${ms(recorded.p95)}, now ${ms(now.p50)}/${ms(now.p95)}`,
  ];
  if (model.outputs.length) {
    const rows = model.outputs.map((o) => [
      o.name,
      o.compared,
      delta(o.max_abs_delta),
      delta(o.mean_abs_delta),
      `${o.changed_elements}/${o.elements}`,
      o.rows ? `${o.label_flips}/${o.rows}` : '-',
      o.mismatches.length,
    ]);
    lines.push(indent(table(['OUTPUT', 'COMPARED', 'MAX |Δ|', 'MEAN |Δ|', 'CHANGED', 'FLIPS/ROWS', 'SHAPE/TYPE CHANGED'], rows)));
  }
  for (const output of model.outputs) {
    const shown = output.flips.slice(0, examples);
    if (shown.length) {
      const more = output.flips.length > shown.length ? ` (first ${shown.length} of ${output.flips.length})` : '';
      lines.push(`  '${output.name}' label flips${more}:`);
      for (const flip of shown)
        lines.push(`    seq ${flip.seq} row ${flip.row}: ${flip.recorded_label ?? flip.recorded} → ${flip.now_label ?? flip.now}`);
    }
    const mismatch = output.mismatches[0];
    if (mismatch)
      lines.push(
        `  '${output.name}' differs in ${output.mismatches.length} request(s), e.g. seq ${mismatch.seq}: ${mismatch.recorded} recorded, ${mismatch.now} now`,
      );
  }
  for (const failure of model.failed_now.slice(0, Math.max(examples, 1))) {
    lines.push(`  failed now: seq ${failure.seq}: ${failure.status === null ? '' : `${failure.status} `}${failure.error}`);
  }
  if (model.failed_now.length > Math.max(examples, 1))
    lines.push(`  ... ${model.failed_now.length - Math.max(examples, 1)} more failed now`);
  for (const skipped of model.not_compared.slice(0, 1))
    lines.push(
      `  not compared: seq ${skipped.seq}: ${skipped.reason}${model.not_compared.length > 1 ? ` (and ${model.not_compared.length - 1} more)` : ''}`,
    );
  return lines;
}

function ms(value: number | null): string {
  return value === null ? '-' : value.toFixed(1);
}

function delta(value: number | null): string {
  if (value === null) return '-';
  if (value === 0) return '0';
  return value >= 1e-3 && value < 1e4 ? value.toPrecision(3) : value.toExponential(2);
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');
}
