/**
 * Triton's config.pbtxt for an exported model: the `inference.ModelConfig` message of Triton's
 * model_config.proto in protobuf text format, for the TensorFlow backend's SavedModels
 * (`<model>/<n>/model.savedmodel/`). A pure function of the model's signature, batching, labels
 * and the exported versions; the repository layout around it is repository-layout.ts's.
 */
import { tritonDatatype } from './datatypes';
import { type ExportBatching, type ExportTensor, sortedVersions } from './export-input';
import { ProtoTextWriter } from './proto-text';

export interface TritonModelInput {
  /** The model's name: the repository's folder, and the name Triton serves it under. */
  name: string;
  /** The SavedModel signature's inputs and outputs (Triton's TensorFlow backend matches them by name). */
  inputs: readonly ExportTensor[];
  outputs: readonly ExportTensor[];
  /** The model's dynamic batching; absent or `max_batch_size` ≤ 1 means none. */
  batching?: ExportBatching;
  /** The versions in the repository (`<model>/<n>/`): the version policy serves exactly these. */
  versions: readonly number[];
  /** A classifier's labels: the classification outputs name `TRITON_LABEL_FILE` (write it with `tritonLabelFile`). */
  labels?: readonly string[];
}

/** The labels file's name, beside config.pbtxt in `<model>/`. */
export const TRITON_LABEL_FILE = 'labels.txt';

/** The labels file's text: one label a line, the line number being the class index. */
export function tritonLabelFile(labels: readonly string[]): string {
  // A line break inside a label would shift every later class; Triton reads the file line by line.
  return labels.map((label) => `${label.replace(/[\r\n]+/g, ' ')}\n`).join('');
}

/**
 * The max_batch_size Triton gets. modelport batches only when `max_batch_size` > 1 (0 and 1 both
 * turn it off) and every input starts with a variable dimension; Triton's `max_batch_size > 0`
 * also says every output has that batch dimension, so the outputs must start with -1 as well.
 */
export function tritonMaxBatchSize(model: Pick<TritonModelInput, 'inputs' | 'outputs' | 'batching'>): number {
  const requested = model.batching?.max_batch_size ?? 0;
  if (requested <= 1) return 0;
  const batched = (tensor: ExportTensor) => tensor.shape.length > 0 && tensor.shape[0] === -1;
  return model.inputs.every(batched) && model.outputs.every(batched) ? requested : 0;
}

/**
 * Triton's `dims`: with `max_batch_size > 0` Triton adds the batch dimension itself, so it is left
 * out; with 0 they are the full shape. A tensor left with no dimension (a scalar, or only the batch)
 * is `dims: [1]` reshaped to `[]`, as Triton's documentation asks: `dims` may not be empty.
 */
export function tritonDims(shape: readonly number[], maxBatchSize: number): { dims: number[]; reshape?: number[] } {
  const dims = maxBatchSize > 0 ? shape.slice(1) : [...shape];
  return dims.length > 0 ? { dims } : { dims: [1], reshape: [] };
}

export function tritonModelConfig(model: TritonModelInput): string {
  const versions = sortedVersions(model.versions, model.name);
  const maxBatchSize = tritonMaxBatchSize(model);
  const labelled = labelledOutputs(model);
  const writer = new ProtoTextWriter()
    .comment(`Triton model configuration (inference.ModelConfig) written by modelport export for '${model.name}'.`)
    .field('name', model.name)
    .field('platform', 'tensorflow_savedmodel')
    .field('max_batch_size', maxBatchSize)
    .message('version_policy', (policy) => policy.message('specific', (specific) => specific.list('versions', versions)));
  for (const input of model.inputs) writer.message('input', (w) => tensorFields(w, input, maxBatchSize));
  for (const output of model.outputs) {
    writer.message('output', (w) => {
      tensorFields(w, output, maxBatchSize);
      if (labelled.has(output.name)) w.field('label_filename', TRITON_LABEL_FILE);
    });
  }
  if (maxBatchSize > 0 && model.batching) {
    const { max_queue_delay_ms, max_queue_size } = model.batching;
    // modelport's max_queue_size counts waiting samples, Triton's waiting requests: a request holds
    // at least one sample, so Triton's queue refuses no earlier than modelport's.
    writer.message('dynamic_batching', (batching) =>
      batching
        .field('max_queue_delay_microseconds', Math.round(max_queue_delay_ms * 1000))
        .message('default_queue_policy', (policy) => policy.field('max_queue_size', max_queue_size)),
    );
  }
  return writer.text();
}

function tensorFields(writer: ProtoTextWriter, tensor: ExportTensor, maxBatchSize: number): void {
  const { dims, reshape } = tritonDims(tensor.shape, maxBatchSize);
  writer.field('name', tensor.name).enumField('data_type', tritonDatatype(tensor.datatype)).list('dims', dims);
  if (reshape) writer.message('reshape', (w) => w.list('shape', reshape));
}

/**
 * The outputs a classification names its classes from: those whose last dimension is the number
 * of labels, or, when none is, the model's only output (modelport's classification extension
 * labels whichever output is asked for). Strings are never scores.
 */
function labelledOutputs(model: TritonModelInput): Set<string> {
  const count = model.labels?.length ?? 0;
  if (count === 0) return new Set();
  const scores = model.outputs.filter((output) => output.datatype !== 'BYTES');
  const matching = scores.filter((output) => output.shape.at(-1) === count);
  const chosen = matching.length > 0 ? matching : model.outputs.length === 1 ? scores : [];
  return new Set(chosen.map((output) => output.name));
}
