/** `modelport select <task> ...`: which version serves a task best under constraints, measured now. */
import { Command, Option } from 'commander';
import type { SelectionParams } from 'modelport';
import { finiteNumber, parseJson, positive, readUserFile } from './flags';
import { EXIT, kib, table, UsageError } from './output';
import type { Context } from './registry';

type SignatureInput = NonNullable<SelectionParams['inputs']>[number];

export function selectCommand(context: Context): Command {
  return new Command('select')
    .description('choose the version that serves a task best under constraints; exits 5 when none is eligible')
    .argument('<task>', 'e.g. image-classification')
    .option('--input <signature>', '[name:]DATATYPE:shape, e.g. FP32:-1,28,28,1 (-1 is variable; repeat for several inputs)', collect)
    .option('--example <file>', 'JSON { datatype?, shape, data }: an example input (its signature, and each candidate runs it)')
    .option('--min-accuracy <fraction>', 'e.g. 0.95, on --dataset or the built-in held-out set')
    .option('--max-p95-ms <ms>', 'per-sample p95 latency, measured now')
    .option('--max-size <bytes>', "the version's files on disk")
    .addOption(
      new Option('--objective <objective>', 'what decides among eligible candidates')
        .choices(['accuracy', 'latency', 'size'])
        .default('accuracy'),
    )
    .option('--dataset <name>', 'the dataset to judge accuracy on')
    .option('--latency-samples <n>', 'single-sample requests timed per candidate (server default 50)')
    .action(async (task: string, options) => {
      const { client, out } = context();
      const inputs = ((options.input ?? []) as string[]).map(signature);
      if (!inputs.length && !options.example)
        throw new UsageError('give the input signature: --input DATATYPE:shape (e.g. FP32:-1,28,28,1) or --example <file>');
      const constraints: NonNullable<SelectionParams['constraints']> = {
        ...(options.minAccuracy !== undefined ? { min_accuracy: finiteNumber(options.minAccuracy, '--min-accuracy') } : {}),
        ...(options.maxP95Ms !== undefined ? { max_p95_latency_ms: finiteNumber(options.maxP95Ms, '--max-p95-ms') } : {}),
        ...(options.maxSize !== undefined ? { max_size_bytes: finiteNumber(options.maxSize, '--max-size') } : {}),
      };
      const selection = await client.select({
        task,
        objective: options.objective,
        constraints,
        ...(inputs.length ? { inputs } : {}),
        ...(options.example ? { example: await example(options.example) } : {}),
        ...(options.dataset ? { dataset: options.dataset } : {}),
        ...(options.latencySamples ? { latency_samples: positive(options.latencySamples, '--latency-samples') } : {}),
      });
      out.result(selection, () =>
        [
          selection.chosen ? `chosen: ${selection.chosen.model} version ${selection.chosen.version}` : 'chosen: none',
          selection.explanation,
          '',
          table(
            ['RANK', 'MODEL', 'VERSION', 'ACCURACY', 'MACRO_F1', 'P95_MS', 'SIZE', 'EXCLUDED_BY'],
            selection.candidates.map((c) => [
              c.rank ?? '-',
              c.model,
              c.version,
              c.accuracy?.toFixed(4),
              c.macro_f1?.toFixed(4),
              c.latency_ms?.p95.toFixed(2),
              c.size_bytes === null ? undefined : kib(c.size_bytes),
              c.excluded_by.join(','),
            ]),
          ),
        ].join('\n'),
      );
      // Scripts can branch on "nothing fits" without parsing the output.
      if (!selection.chosen) process.exitCode = EXIT.noneEligible;
    });
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** `FP32:-1,28,28,1` or `image:FP32:-1,28,28,1`. */
function signature(spec: string): SignatureInput {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3) throw new UsageError(`--input '${spec}' is not [name:]DATATYPE:shape, e.g. FP32:-1,28,28,1`);
  const [shapeText, datatype, name] = parts.reverse() as [string, string, string | undefined];
  const shape = shapeText.split(',').map(Number);
  if (!shape.every((d) => Number.isInteger(d) && d >= -1 && d !== 0))
    throw new UsageError(`--input '${spec}': the shape must be whole numbers ≥ 1 or -1, e.g. -1,28,28,1`);
  return { ...(name ? { name } : {}), datatype: datatype.toUpperCase() as SignatureInput['datatype'], shape };
}

async function example(file: string): Promise<NonNullable<SelectionParams['example']>> {
  const value = parseJson((await readUserFile(file, '--example')).toString('utf8'), `--example ${file}`);
  const { shape, data } = (value ?? {}) as { shape?: unknown; data?: unknown };
  if (!Array.isArray(shape) || !Array.isArray(data))
    throw new UsageError(`--example ${file} must be JSON { "datatype": "FP32", "shape": [1, ...], "data": [...] } (data flat)`);
  return value as NonNullable<SelectionParams['example']>;
}
