/**
 * Choose a model: which digit classifier is accurate enough, fast enough and small enough?
 * Evaluates the bundled `digits` (a CNN, more accurate) and `digits-mlp` (a perceptron, faster)
 * on the 2,000 held-out MNIST digits, then asks the server to choose under different
 * objectives and constraints.
 *
 *   npm start                                 # in one terminal: the server on 127.0.0.1:8700
 *   npx tsx examples/choose-a-model.ts        # in another
 *
 * Set MODELPORT_URL / MODELPORT_API_KEY to point elsewhere. Latencies are measured on the
 * server while this runs, so they depend on the machine: the latency budget below is not a
 * constant, it is placed between the two p95s measured here. Accuracy does not depend on the
 * machine: the same 2,000 digits give the same figures everywhere.
 */
import { Modelport, type EvaluationResult, type Selection, type SelectionParams } from 'modelport';

const client = new Modelport({ baseUrl: process.env.MODELPORT_URL ?? 'http://127.0.0.1:8700', apiKey: process.env.MODELPORT_API_KEY });
/** Timed single-sample requests per model: enough for a p95 that holds still between runs. */
const LATENCY_SAMPLES = Number(process.env.LATENCY_SAMPLES ?? 200);

// 1. Evaluate both on the held-out digits (a job on the server; wait() follows it until it is done).
const job = await client.evaluations.create({
  dataset: 'mnist-holdout',
  models: [{ model: 'digits' }, { model: 'digits-mlp' }],
  latency_samples: LATENCY_SAMPLES,
});
const evaluation = await job.wait({
  onProgress: (e) => process.stdout.isTTY && process.stdout.write(`\revaluating on mnist-holdout… ${Math.round(e.progress * 100)}%`),
});
if (process.stdout.isTTY) process.stdout.write('\n');
console.log(`evaluation ${evaluation.id} on ${evaluation.dataset}:\n`);

printTable(
  evaluation.results.map((r: EvaluationResult) => ({
    model: `${r.model} v${r.version}`,
    accuracy: `${(r.accuracy * 100).toFixed(2)} %`,
    'macro F1': r.macro.f1.toFixed(4),
    'p50 ms': r.latency_ms.per_sample!.p50.toFixed(2),
    'p95 ms': r.latency_ms.per_sample!.p95.toFixed(2),
    'batch p50 ms': r.latency_ms.per_batch.p50.toFixed(1),
    size: `${(r.size_bytes / 1024).toFixed(0)} KB`,
  })),
);

// 2. Let the server choose. Every selection re-measures latency now, on this server.
const [cnn, mlp] = ['digits', 'digits-mlp'].map((name) => evaluation.results.find((r) => r.model === name)!);
const p95 = (r: EvaluationResult) => r.latency_ms.per_sample!.p95;
const budget = Math.round(((p95(cnn!) + p95(mlp!)) / 2) * 1000) / 1000;
const base: SelectionParams = {
  task: 'image-classification',
  inputs: [{ datatype: 'FP32', shape: [-1, 28, 28, 1] }],
  latency_samples: LATENCY_SAMPLES,
};

const questions: [string, SelectionParams][] = [
  ['the most accurate', { ...base, objective: 'accuracy' }],
  ['the smallest that is at least 95 % accurate', { ...base, objective: 'size', constraints: { min_accuracy: 0.95 } }],
  ['the fastest that is at least 90 % accurate', { ...base, objective: 'latency', constraints: { min_accuracy: 0.9 } }],
  [
    `the most accurate with p95 ≤ ${budget} ms (between the two p95s above)`,
    { ...base, objective: 'accuracy', constraints: { max_p95_latency_ms: budget } },
  ],
  ['at least 99 % accurate (neither is)', { ...base, constraints: { min_accuracy: 0.99 } }],
];
for (const [question, request] of questions) {
  const selection = await client.select(request);
  console.log(`${question} → ${selection.chosen ? `${selection.chosen.model} v${selection.chosen.version}` : 'nothing'}`);
  console.log(`  ${selection.explanation}`);
  console.log(`  ${measured(selection)}\n`);
}

function measured(selection: Selection): string {
  return selection.candidates
    .map(
      (c) =>
        `${c.model}: accuracy ${c.accuracy} (${c.sources.accuracy.kind}${c.sources.accuracy.dataset ? ` ${c.sources.accuracy.dataset}` : ''}), p95 ${c.latency_ms?.p95 ?? '?'} ms${c.excluded_by.length ? `, excluded by ${c.excluded_by.join(', ')}` : ''}`,
    )
    .join('; ');
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
