/**
 * Compare the bundled digit classifiers, `digits` (a CNN, more accurate) and `digits-mlp` (a
 * perceptron, faster), on the 2,000 held-out MNIST digits, then let the server choose between
 * them under a loose and a tight latency budget.
 *
 *   npm start                                # in one terminal: the server on 127.0.0.1:8700
 *   npx tsx examples/compare-digits.ts       # in another
 *
 * Set MODELPORT_URL / MODELPORT_API_KEY to point elsewhere. Latencies are measured on the
 * server while this runs, so they depend on the machine: the tight budget is not a constant,
 * it is placed between the two p95s measured here.
 */
import { Modelport, type EvaluationResult, type Selection } from 'modelport';

const client = new Modelport({ baseUrl: process.env.MODELPORT_URL ?? 'http://127.0.0.1:8700', apiKey: process.env.MODELPORT_API_KEY });
/** Timed single-sample requests per model: enough for a p95 that holds still between runs. */
const LATENCY_SAMPLES = 200;

// 1. Evaluate both on the held-out digits (a job on the server; wait() polls until it is done).
const job = await client.evaluations.create({
  dataset: 'mnist-holdout',
  models: [{ model: 'digits' }, { model: 'digits-mlp' }],
  latency_samples: LATENCY_SAMPLES,
});
const evaluation = await job.wait({ onProgress: (e) => process.stdout.write(`\revaluating on mnist-holdout… ${Math.round(e.progress * 100)}%`) });
console.log('\n');

const rows = evaluation.results.map((r: EvaluationResult) => ({
  model: `${r.model} v${r.version}`,
  accuracy: `${(r.accuracy * 100).toFixed(2)} %`,
  'macro F1': r.macro.f1.toFixed(4),
  'p50 ms': r.latency_ms.per_sample!.p50.toFixed(2),
  'p95 ms': r.latency_ms.per_sample!.p95.toFixed(2),
  'batch of 250 p50 ms': r.latency_ms.per_batch.p50.toFixed(1),
  size: `${(r.size_bytes / 1024).toFixed(0)} KB`,
}));
printTable(rows);

// 2. Two latency budgets, both derived from what was just measured.
const [cnn, mlp] = ['digits', 'digits-mlp'].map((name) => evaluation.results.find((r) => r.model === name)!);
const p95 = (r: EvaluationResult) => r.latency_ms.per_sample!.p95;
const budgets = [
  { name: 'loose', ms: round(10 * Math.max(p95(cnn!), p95(mlp!))) },
  { name: 'tight', ms: round((p95(cnn!) + p95(mlp!)) / 2) },
];
if (p95(cnn!) <= p95(mlp!)) console.log('note: on this run the CNN measured no slower than the MLP, so the tight budget cannot separate them\n');

for (const budget of budgets) {
  const selection = await client.select({
    task: 'image-classification',
    inputs: [{ datatype: 'FP32', shape: [-1, 28, 28, 1] }],
    constraints: { min_accuracy: 0.9, max_p95_latency_ms: budget.ms },
    objective: 'accuracy',
    latency_samples: LATENCY_SAMPLES,
  });
  const chosen = selection.chosen ? `${selection.chosen.model} v${selection.chosen.version}` : 'nothing';
  console.log(`${budget.name} budget, p95 ≤ ${budget.ms} ms → ${chosen}`);
  console.log(`  ${selection.explanation}`);
  console.log(`  measured at selection time: ${measured(selection)}\n`);
}

function measured(selection: Selection): string {
  return selection.candidates.map((c) => `${c.model} p95 ${c.latency_ms?.p95 ?? '?'} ms, accuracy ${c.accuracy} (${c.sources.accuracy.kind}${c.sources.accuracy.dataset ? ` ${c.sources.accuracy.dataset}` : ''})`).join('; ');
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

function printTable(data: Record<string, string>[]): void {
  const columns = Object.keys(data[0]!);
  const widths = columns.map((c) => Math.max(c.length, ...data.map((row) => row[c]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  console.log(line(columns));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of data) console.log(line(columns.map((c) => row[c]!)));
  console.log();
}
