/** `modelport train <model> ...`: start a training job and follow it with a progress bar. */
import { Command } from 'commander';
import type { TrainingEvent, TrainingJobCreateParams } from 'modelport';
import { parseJson, positive, readUserFile, split } from './flags';
import { progressBar, table, UsageError } from './output';
import type { Context } from './registry';

export function trainCommand(context: Context): Command {
  return new Command('train')
    .description('train a new model (--architecture) or fine-tune a version (--base-version) on a dataset')
    .argument('<model>')
    .requiredOption('--dataset <name>', 'mnist-train, iris-train, ... or an uploaded dataset')
    .requiredOption('--epochs <n>')
    .option('--architecture <file>', 'JSON: { input: { name, shape }, layers: [...] }')
    .option('--base-version <n>', 'fine-tune from this version')
    .option('--freeze-layers <n>', 'keep the first N layers fixed (fine-tuning)')
    .option('--batch-size <n>', 'batch size', '32')
    .option('--validation-split <fraction>', 'held out for validation', '0.1')
    .option('--optimizer <name>', 'sgd, momentum, adagrad, rmsprop or adam', 'adam')
    .option('--learning-rate <rate>')
    .option('--patience <epochs>', 'early stopping on val_loss')
    .option('--task <task>')
    .option('--labels <labels>', 'comma-separated')
    .option('--alias <alias>', 'point this alias at the new version')
    .option('--seed <n>')
    .option('--no-wait', 'print the job and return at once')
    .action(async (model: string, options) => {
      const { client, out } = context();
      if (Boolean(options.architecture) === Boolean(options.baseVersion))
        throw new UsageError('give --architecture (a new model) or --base-version (fine-tuning)');
      const request: TrainingJobCreateParams = {
        model,
        dataset: options.dataset,
        epochs: positive(options.epochs, '--epochs'),
        batch_size: positive(options.batchSize, '--batch-size'),
        validation_split: Number(options.validationSplit),
        optimizer: { name: options.optimizer, ...(options.learningRate ? { learning_rate: Number(options.learningRate) } : {}) },
        ...(options.architecture
          ? {
              architecture: parseJson(
                (await readUserFile(options.architecture, '--architecture')).toString('utf8'),
                `--architecture ${options.architecture}`,
              ) as TrainingJobCreateParams['architecture'],
            }
          : {}),
        ...(options.baseVersion ? { base_version: positive(options.baseVersion, '--base-version') } : {}),
        ...(options.freezeLayers ? { freeze_layers: Number(options.freezeLayers) } : {}),
        ...(options.patience ? { early_stopping: { monitor: 'val_loss', patience: Number(options.patience) } } : {}),
        ...(options.task ? { task: options.task } : {}),
        ...(options.labels ? { labels: split(options.labels) } : {}),
        ...(options.alias ? { alias: options.alias } : {}),
        ...(options.seed ? { seed: Number(options.seed) } : {}),
      };
      const job = await client.trainingJobs.create(request);
      if (!options.wait) {
        out.result(job, () => `started training job ${job.id}`);
        return;
      }
      const epochs: TrainingEvent[] = [];
      const bar = await progressBar(out, 'epoch {value}/{total} |{bar}| loss {loss} val_acc {val} eta {eta_formatted}');
      bar?.start(request.epochs, 0, { loss: '-', val: '-' });
      for await (const event of job.events()) {
        if (event.type !== 'epoch') continue;
        epochs.push(event);
        bar?.update(event.epoch!, { loss: event.loss?.toFixed(4) ?? '-', val: event.val_accuracy?.toFixed(4) ?? '-' });
      }
      bar?.stop();
      const done = await job.wait();
      out.result({ job: done, epochs }, () =>
        [
          table(
            ['EPOCH', 'LOSS', 'ACCURACY', 'VAL_LOSS', 'VAL_ACCURACY', 'SECONDS'],
            epochs.map((e) => [e.epoch, fixed(e.loss), fixed(e.accuracy), fixed(e.val_loss), fixed(e.val_accuracy), e.seconds]),
          ),
          '',
          `job ${done.id} ${done.status}: ${model} version ${done.result_version}${request.alias ? `, ${request.alias} → ${done.result_version}` : ''}`,
        ].join('\n'),
      );
    });
}

function fixed(value: number | undefined): string {
  return value === undefined ? '' : value.toFixed(4);
}
