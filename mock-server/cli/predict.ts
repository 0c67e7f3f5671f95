/** `modelport predict <model> [input]`: from a JSON file, an image file (digit models), or stdin. */
import path from 'node:path';
import { Command } from 'commander';
import type { TensorLike } from 'modelport';
import type { InferenceRequest } from 'modelport';
import { parseJson, readUserFile } from './flags';
import { table, UsageError } from './output';
import type { Context } from './registry';

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.gif', '.bmp']);

export function predictCommand(context: Context): Command {
  return new Command('predict')
    .description('predict with a model; input: a JSON file (nested array, {input: data}, or an OIP request), an image file, or stdin')
    .argument('<model>')
    .argument('[input]', 'a file, or - for stdin (the default when stdin is not a terminal)')
    .option('--model-version <version>', 'a version number or alias')
    .option('--top-k <k>', 'classes per row for classifiers', '3')
    .option('--binary', 'use binary tensors', false)
    .action(async (model: string, input: string | undefined, options) => {
      const { client, out } = context();
      const version = options.modelVersion;
      const source = await readInput(input);
      if (source.kind === 'oip') {
        const response = await client.inference.infer(model, source.request, { version });
        out.result(response, () =>
          response.outputs.map((o) => `${o.name} ${o.datatype} [${o.shape}]: ${JSON.stringify(o.data).slice(0, 200)}`).join('\n'),
        );
        return;
      }
      let inputs: TensorLike | Record<string, TensorLike>;
      if (source.kind === 'image') {
        // Image models decode encoded images in their image input (see their preprocessing config).
        const metadata = await client.models.metadata(model, { version });
        inputs = { [metadata.inputs[0]!.name]: { data: [source.base64], shape: [1], datatype: 'BYTES' } };
      } else {
        inputs = source.inputs;
      }
      const prediction = await client.predict(model, inputs, { version, binary: options.binary, topK: Number(options.topK) });
      out.result(prediction, () => {
        if (prediction.classes) {
          return table(
            ['ROW', 'LABEL', 'SCORE', 'RUNNERS-UP'],
            prediction.classes.map((top, i) => [
              i,
              top[0]!.label,
              top[0]!.score.toFixed(4),
              top
                .slice(1)
                .map((c) => `${c.label} ${c.score.toFixed(3)}`)
                .join(', '),
            ]),
          );
        }
        return Object.values(prediction.outputs)
          .map(
            (t) =>
              `${t.name} ${t.datatype} [${t.shape}]: ${Array.from(t.data as ArrayLike<unknown>)
                .slice(0, 20)
                .join(', ')}`,
          )
          .join('\n');
      });
    });
}

type Input =
  | { kind: 'tensors'; inputs: TensorLike | Record<string, TensorLike> }
  | { kind: 'oip'; request: InferenceRequest }
  | { kind: 'image'; base64: string };

async function readInput(file: string | undefined): Promise<Input> {
  if (file && IMAGE_EXTENSIONS.has(path.extname(file).toLowerCase())) {
    return { kind: 'image', base64: (await readUserFile(file, 'the input')).toString('base64') };
  }
  let text: string;
  if (file && file !== '-') text = (await readUserFile(file, 'the input')).toString('utf8');
  else if (!process.stdin.isTTY) text = await readStdin();
  else throw new UsageError('give an input file, or pipe JSON on stdin');
  const value = parseJson(text, 'the input');
  if (value && typeof value === 'object' && Array.isArray((value as { inputs?: unknown }).inputs))
    return { kind: 'oip', request: value as InferenceRequest };
  return { kind: 'tensors', inputs: value as TensorLike };
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
