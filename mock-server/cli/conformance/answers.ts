/**
 * What each answer must be, per the Open Inference Protocol's REST text (inference_rest.md) and
 * its open_inference_rest.yaml: each function lists the problems of a body, naming the part at
 * fault; an empty list means the body conforms.
 */
import { DATATYPE_SIZE, elementCount, type Datatype } from 'modelport';
import { excerpt, isObject } from './exchange';
import { isOipDatatype, type TensorMetadata } from './requests';

/** The platform names the spec lists ("Platforms"); it calls platform information only. */
const SPEC_PLATFORMS = [
  'tensorrt_plan',
  'tensorflow_graphdef',
  'tensorflow_savedmodel',
  'onnx_onnxv1',
  'pytorch_torchscript',
  'mxnet_mxnet',
  'caffe2_netdef',
];

const isString = (value: unknown): value is string => typeof value === 'string';
const isStringArray = (value: unknown): value is string[] => Array.isArray(value) && value.every(isString);

/** `$metadata_server_response`: name, version, extensions. */
export function serverMetadataProblems(body: unknown): string[] {
  if (!isObject(body)) return ['the body is not a JSON object'];
  const problems: string[] = [];
  if (!isString(body.name)) problems.push(`name is ${excerpt(body.name)}, not a string`);
  if (!isString(body.version)) problems.push(`version is ${excerpt(body.version)}, not a string`);
  if (!isStringArray(body.extensions)) problems.push(`extensions is ${excerpt(body.extensions)}, not an array of strings`);
  return problems;
}

/** `$metadata_tensor` lists: name, a spec datatype, a shape of integers (-1 variable). */
function tensorListProblems(list: unknown, field: 'inputs' | 'outputs'): string[] {
  if (!Array.isArray(list)) return [`${field} is ${excerpt(list)}, not an array`];
  return list.flatMap((tensor: unknown, i) => {
    if (!isObject(tensor)) return [`${field}[${i}] is not an object`];
    const at = `${field}[${i}]${isString(tensor.name) ? ` '${tensor.name}'` : ''}`;
    const problems: string[] = [];
    if (!isString(tensor.name)) problems.push(`${at}: name is ${excerpt(tensor.name)}, not a string`);
    if (!isString(tensor.datatype) || !isOipDatatype(tensor.datatype))
      problems.push(`${at}: datatype ${excerpt(tensor.datatype)} is not a datatype of the spec`);
    if (!Array.isArray(tensor.shape) || !tensor.shape.every((d) => Number.isInteger(d) && d >= -1))
      problems.push(`${at}: shape ${excerpt(tensor.shape)} is not a list of integers (-1 for variable)`);
    return problems;
  });
}

/** `$metadata_model_response`: name (the model asked for), versions (optional), platform, inputs, outputs. */
export function modelMetadataProblems(body: unknown, model: string): string[] {
  if (!isObject(body)) return ['the body is not a JSON object'];
  const problems: string[] = [];
  if (body.name !== model) problems.push(`name is ${excerpt(body.name)}, not '${model}'`);
  if (body.versions !== undefined && !isStringArray(body.versions))
    problems.push(`versions is ${excerpt(body.versions)}, not an array of strings`);
  if (!isString(body.platform)) problems.push(`platform is ${excerpt(body.platform)}, not a string`);
  problems.push(...tensorListProblems(body.inputs, 'inputs'), ...tensorListProblems(body.outputs, 'outputs'));
  return problems;
}

/** What a conforming model metadata says, for the evidence column. */
export function describeModelMetadata(body: Record<string, unknown>): string {
  const tensors = (list: unknown) =>
    (list as TensorMetadata[]).map((t) => `${t.name} ${t.datatype} [${t.shape.join(',')}]`).join(', ') || 'none';
  const platform = String(body.platform);
  const listed = SPEC_PLATFORMS.includes(platform) ? '' : " (not in the spec's list, which it calls information only)";
  const versions = body.versions === undefined ? 'no versions listed' : `versions [${(body.versions as string[]).join(', ')}]`;
  return `platform ${platform}${listed}; ${versions}; inputs ${tensors(body.inputs)}; outputs ${tensors(body.outputs)}`;
}

/** Flattens nested tensor data (the spec allows either form) and counts its elements. */
function flatLength(data: unknown): number {
  return Array.isArray(data) ? data.reduce((n: number, item) => n + flatLength(item), 0) : 1;
}

export interface InferExpectation {
  model: string;
  /** The version asked for in the path, if any: `model_version`, when sent, must be it. */
  version?: string | undefined;
  /** Outputs the response must have (every output of the model when the request named none). */
  outputs: readonly string[];
  /** Outputs asked for binary: their data is in the body after the JSON header. */
  binary?: boolean;
}

/** `$inference_response`: model_name, the request's id, and outputs with name, shape, datatype and data that fits the shape. */
export function inferResponseProblems(body: unknown, expected: InferExpectation, requestId: string): string[] {
  if (!isObject(body)) return ['the body is not a JSON object'];
  const problems: string[] = [];
  if (body.model_name !== expected.model) problems.push(`model_name is ${excerpt(body.model_name)}, not '${expected.model}'`);
  if (expected.version !== undefined && body.model_version !== undefined && String(body.model_version) !== expected.version)
    problems.push(`model_version is ${excerpt(body.model_version)}, not '${expected.version}' as asked`);
  if (body.id !== requestId) problems.push(`id is ${excerpt(body.id)}, not the request's '${requestId}' (the spec: it must be returned)`);
  if (!Array.isArray(body.outputs)) return [...problems, `outputs is ${excerpt(body.outputs)}, not an array`];
  const names = body.outputs.map((o: unknown) => (isObject(o) ? o.name : undefined));
  for (const name of expected.outputs) if (!names.includes(name)) problems.push(`output '${name}' is missing`);
  body.outputs.forEach((output: unknown, i) => problems.push(...outputProblems(output, i, expected.binary === true)));
  return problems;
}

function outputProblems(output: unknown, i: number, binary: boolean): string[] {
  if (!isObject(output)) return [`outputs[${i}] is not an object`];
  const at = `outputs[${i}]${isString(output.name) ? ` '${output.name}'` : ''}`;
  const problems: string[] = [];
  if (!isString(output.name)) problems.push(`${at}: name is ${excerpt(output.name)}, not a string`);
  if (!isString(output.datatype) || !isOipDatatype(output.datatype))
    problems.push(`${at}: datatype ${excerpt(output.datatype)} is not a datatype of the spec`);
  const shape = output.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    problems.push(`${at}: shape ${excerpt(shape)} is not a list of non-negative integers`);
    return problems;
  }
  if (binary) {
    const size = isObject(output.parameters) ? output.parameters.binary_data_size : undefined;
    if (!Number.isInteger(size)) problems.push(`${at}: parameters.binary_data_size is ${excerpt(size)}, not the byte count of its data`);
    else if (isString(output.datatype) && isOipDatatype(output.datatype) && output.datatype !== 'BYTES') {
      const expected = elementCount(shape as number[]) * DATATYPE_SIZE[output.datatype as Exclude<Datatype, 'BYTES'>];
      if (size !== expected)
        problems.push(`${at}: binary_data_size ${size} is not ${expected} (shape [${shape.join(',')}] of ${output.datatype})`);
    }
    return problems;
  }
  if (!Array.isArray(output.data)) problems.push(`${at}: data is ${excerpt(output.data)}, not an array`);
  else if (flatLength(output.data) !== elementCount(shape as number[]))
    problems.push(
      `${at}: data has ${flatLength(output.data)} elements, shape [${shape.join(',')}] needs ${elementCount(shape as number[])}`,
    );
  return problems;
}

/** Outputs of a response, for the evidence column. */
export function describeOutputs(body: Record<string, unknown>): string {
  const outputs = body.outputs as { name: string; datatype: string; shape: number[] }[];
  return outputs.map((o) => `${o.name} ${o.datatype} [${o.shape.join(',')}]`).join(', ');
}

/** `$inference_error_response` and its kin: `{ "error": <string> }`. */
export function errorBodyProblems(body: unknown): string[] {
  if (!isObject(body)) return ['the body is not a JSON object with `error`'];
  return isString(body.error) ? [] : [`error is ${excerpt(body.error)}, not a string`];
}

/** Triton's classification extension: each element `<value>:<index>` or `<value>:<index>:<label>`, as BYTES. */
export function classificationProblems(output: unknown, classes: number): string[] {
  if (!isObject(output)) return ['the first output is not an object'];
  const problems: string[] = [];
  if (output.datatype !== 'BYTES') problems.push(`datatype is ${excerpt(output.datatype)}, not BYTES`);
  const data = Array.isArray(output.data) ? output.data.flat(Number.POSITIVE_INFINITY) : undefined;
  if (!data) return [...problems, `data is ${excerpt(output.data)}, not an array`];
  const bad = data.find((item) => !(isString(item) && /^[-+]?[\d.]+(e[-+]?\d+)?:\d+(:.*)?$/i.test(item)));
  if (bad !== undefined) problems.push(`element ${excerpt(bad)} is not '<value>:<index>[:<label>]'`);
  const shape = output.shape as number[] | undefined;
  if (Array.isArray(shape) && shape.at(-1) !== classes)
    problems.push(`shape [${shape.join(',')}] does not end in the ${classes} classes asked`);
  return problems;
}
