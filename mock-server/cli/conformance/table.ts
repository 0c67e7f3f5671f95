/** The conformance report as people read it: one line per check, the evidence last, and a count. */
import { table } from '../output';
import type { CheckResult, ConformanceReport } from './checks';

const MARK: Record<CheckResult['outcome'], string> = { pass: 'pass', fail: 'FAIL', 'not-offered': 'not offered' };

export function conformanceTable(report: ConformanceReport): string {
  const heading = [
    `Open Inference Protocol conformance of ${report.url}`,
    report.model === undefined
      ? ''
      : `model ${report.model}${report.version === undefined ? '' : ` version ${report.version}`} (${report.selection})`,
  ].filter(Boolean);
  const rows = report.results.map((r) => [r.id, MARK[r.outcome], r.status ?? '-', r.request, r.evidence]);
  const counts = countOutcomes(report.results);
  const summary = `${counts.pass} pass, ${counts.fail} fail, ${counts['not-offered']} not offered`;
  const lines = [...heading, '', table(['CHECK', 'RESULT', 'STATUS', 'REQUEST', 'EVIDENCE'], rows), '', summary];
  if (report.needsModel) lines.push(`no model checked: ${report.needsModel}`);
  return lines.join('\n');
}

export function countOutcomes(results: readonly CheckResult[]): Record<CheckResult['outcome'], number> {
  const counts = { pass: 0, fail: 0, 'not-offered': 0 };
  for (const r of results) counts[r.outcome] += 1;
  return counts;
}
