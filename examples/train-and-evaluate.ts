/**
 * Train and evaluate: train a small digit classifier on the server's native TensorFlow, follow
 * its progress epoch by epoch, then evaluate the new version on the 2,000 held-out digits next
 * to the bundled `digits` CNN, and promote it only if it is accurate enough.
 *
 *   npm start                                       # in one terminal: the server on 127.0.0.1:8700
 *   npx tsx examples/train-and-evaluate.ts [epochs]  # in another (default 3 epochs, a few seconds)
 *
 * Set MODELPORT_URL / MODELPORT_API_KEY to point elsewhere.
 */
import { Modelport, type EvaluationResult } from 'modelport';

const client = new Modelport({ baseUrl: process.env.MODELPORT_URL ?? 'http://127.0.0.1:8700', apiKey: process.env.MODELPORT_API_KEY });
const epochs = Number(process.argv[2] ?? 3);
const model = 'digits-small';
const MIN_ACCURACY = 0.9;

// 1. A training job: a new model from an architecture, on the built-in 8,000 training digits.
//    It runs in a separate process on the server; the finished job registers a version.
const job = await client.trainingJobs.create({
  model,
  task: 'image-classification',
  labels: [...'0123456789'],
  dataset: 'mnist-train',
  architecture: {
    input: { name: 'image', shape: [28, 28, 1] },
    layers: [{ type: 'flatten' }, { type: 'dense', units: 64, activation: 'relu' }, { type: 'dense', units: 10, activation: 'softmax' }],
  },
  epochs,
  batch_size: 64,
  validation_split: 0.1,
  optimizer: { name: 'adam', learning_rate: 0.002 },
  seed: 7,
  alias: 'staging',
});
console.log(`training job ${job.id}: ${model} on mnist-train, ${epochs} epochs`);

// 2. Progress: the job's events (Server-Sent Events), replayed from the start, then live.
for await (const event of job.events()) {
  if (event.type === 'epoch') {
    console.log(
      `  epoch ${event.epoch}/${event.epochs}: loss ${event.loss!.toFixed(4)}, val_accuracy ${event.val_accuracy!.toFixed(4)}, eta ${Math.round(event.eta_seconds ?? 0)} s`,
    );
  } else {
    console.log(`  ${event.type}${event.version ? ` (version ${event.version})` : ''}${event.error ? `: ${event.error}` : ''}`);
  }
}
const done = await job.wait(); // throws TrainingJobError unless the job succeeded
const version = done.result_version!;
console.log(`trained ${model} v${version}; staging → v${version}\n`);

// 3. Evaluate the new version and the bundled CNN on the same held-out digits.
const evaluation = await (
  await client.evaluations.create({
    dataset: 'mnist-holdout',
    models: [{ model, version }, { model: 'digits' }],
  })
).wait();
const row = (r: EvaluationResult) =>
  `${`${r.model} v${r.version}`.padEnd(16)} accuracy ${(r.accuracy * 100).toFixed(2)} %  macro F1 ${r.macro.f1.toFixed(4)}  size ${(r.size_bytes / 1024).toFixed(0)} KB`;
evaluation.results.forEach((r) => console.log(row(r)));

// 4. Promote it if it is good enough.
const trained = evaluation.results.find((r) => r.model === model)!;
const worst = trained.per_class.reduce((a, b) => (b.recall < a.recall ? b : a));
console.log(`\nits weakest digit: ${worst.label} (recall ${worst.recall.toFixed(3)})`);
if (trained.accuracy >= MIN_ACCURACY) {
  await client.models.aliases.set(model, 'production', version);
  console.log(`accuracy ≥ ${MIN_ACCURACY * 100} %: production → v${version}`);
} else {
  console.log(`accuracy below ${MIN_ACCURACY * 100} %: production left as it was`);
}
