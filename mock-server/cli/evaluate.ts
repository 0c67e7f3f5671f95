/** `modelport evaluate <dataset> <model[@version]>...`: measure versions on a labelled dataset. */
import { Command } from 'commander';
import type { Evaluation, EvaluationCreateParams, EvaluationResult } from 'modelport';
import { positive, wholeNumber } from './flags';
import { kib, progressBar, table, UsageError } from './output';
import type { Context } from './registry';

export function evaluateCommand(context: Context): Command {
  return new Command('evaluate')
    .description('measure model versions on a labelled dataset: accuracy, loss, F1, latency, size')
    .argument('<dataset>', 'mnist-holdout, iris-holdout, ... or an uploaded dataset')
    .argument('<models...>', 'model, model@version or model@alias (default: production, else the newest ready version)')
    .option('--batch-size <n>', 'samples per inference call of the evaluation pass (server default 250)')
    .option('--latency-samples <n>', 'single-sample requests timed per version; 0 skips them (server default 50)')
    .option('--confusion', 'also print each confusion matrix', false)
    .option('--no-wait', 'print the job and return at once')
    .action(async (dataset: string, models: string[], options) => {
      const { client, out } = context();
      const request: EvaluationCreateParams = {
        dataset,
        models: models.map(target),
        ...(options.batchSize ? { batch_size: positive(options.batchSize, '--batch-size') } : {}),
        ...(options.latencySamples !== undefined ? { latency_samples: wholeNumber(options.latencySamples, '--latency-samples') } : {}),
      };
      const job = await client.evaluations.create(request);
      if (!options.wait) {
        out.result(job, () => `started evaluation ${job.id}`);
        return;
      }
      const bar = await progressBar(out, 'evaluating |{bar}| {percentage}% eta {eta_formatted}');
      bar?.start(100, 0);
      let done: Evaluation;
      try {
        done = await job.wait({ onProgress: (e) => bar?.update(Math.round(e.progress * 100)) });
      } finally {
        bar?.stop();
      }
      out.result(done, () =>
        [
          table(
            ['MODEL', 'VERSION', 'SAMPLES', 'ACCURACY', 'LOSS', 'MACRO_F1', 'P50_MS', 'P95_MS', 'SIZE'],
            done.results.map((r) => [
              r.model,
              r.version,
              r.samples,
              r.accuracy.toFixed(4),
              r.loss.toFixed(4),
              r.macro.f1.toFixed(4),
              r.latency_ms.per_sample?.p50.toFixed(2),
              r.latency_ms.per_sample?.p95.toFixed(2),
              kib(r.size_bytes),
            ]),
          ),
          ...(options.confusion ? done.results.map(confusion) : []),
          '',
          `evaluation ${done.id} on ${done.dataset}: ${done.status}`,
        ].join('\n'),
      );
    });
}

/** `digits` → { model }, `digits@2` → version 2, `digits@production` → the alias. */
function target(spec: string): EvaluationCreateParams['models'][number] {
  const [model, version, extra] = spec.split('@');
  if (!model || version === '' || extra !== undefined) throw new UsageError(`'${spec}' is not model, model@version or model@alias`);
  if (version === undefined) return { model };
  return { model, version: /^\d+$/.test(version) ? positive(version, `the version in '${spec}'`) : version };
}

/** Rows are true classes, columns predicted, as the server returns it. */
function confusion(result: EvaluationResult): string {
  const { labels, matrix } = result.confusion_matrix;
  return `\n${result.model} version ${result.version}: rows true, columns predicted\n${table(
    ['', ...labels],
    matrix.map((row, i) => [labels[i], ...row]),
  )}`;
}
