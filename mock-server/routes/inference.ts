/** OIP inference, JSON and binary, with image inputs and classification outputs. */
import { HEADER_LENGTH_HEADER, elementCount, encodeBinaryBody, splitBinaryBody, type Datatype } from 'modelport';
import type { components } from 'modelport';
import type { RequestContext, RouteTable } from '../server/context';
import { checkJsonDepth } from '../http/body';
import { binaryHeaderLength } from '../http/binary-tensors';
import { badRequest, HttpError } from '../http/errors';
import { bytes as bytesReply, json, type Reply } from '../http/respond';
import type { ServedVersion } from '../serving/version-service';
import { classify, decodeImages } from '../runtime/preprocess';
import { mayBeNonFinite, nonFiniteOutput } from '../runtime/finite';
import {
  checkDeclaredInput,
  checkElementLimit,
  decodeBinaryInput,
  decodeJsonInput,
  encodeOutput,
  type HostTensor,
  type InputLimits,
  type RequestInput,
  type ResponseOutput,
} from '../runtime/tensors';
import type { ImagePreprocessing } from '../registry/model-config';

type InferenceRequest = components['schemas']['InferenceRequest'];
type InferenceResponse = components['schemas']['InferenceResponse'];

export const inferenceRoutes: RouteTable = {
  modelInfer: (context) => infer(context, undefined),
  modelVersionInfer: (context) => infer(context, context.params.model_version),
};

async function infer(context: RequestContext, version: string | undefined): Promise<Reply> {
  const started = process.hrtime.bigint();
  const { request, binary } = readInferenceRequest(context);
  const served = context.state.models.resolve(context.params.model_name!, version);
  // (Requests beyond the model's in-flight limit were shed by middleware/admission.ts before their body was read.)
  try {
    const plan = planOutputs(request, served);
    const inputs = await decodeInputs(context, request, binary, served);
    const outputs = await served.infer(inputs);
    const response = encodeResponse(request, served, plan, outputs);
    served.stats.recordRequest(true, Number(process.hrtime.bigint() - started));
    return response;
  } catch (error) {
    served.stats.recordRequest(false, Number(process.hrtime.bigint() - started));
    throw error;
  }
}

/**
 * The JSON request, and for binary bodies (those sent with Inference-Header-Content-Length, as
 * middleware/validation.ts decided) the bytes that follow its header.
 */
function readInferenceRequest(context: RequestContext): { request: InferenceRequest; binary: Uint8Array | undefined } {
  if (!context.rawBody) return { request: context.body as InferenceRequest, binary: undefined };
  const declared = binaryHeaderLength(context.request.headers)!;
  let split;
  try {
    split = splitBinaryBody(context.rawBody, declared);
  } catch (error) {
    throw badRequest(
      (error as Error).message,
      [{ path: `header/${HEADER_LENGTH_HEADER}`, message: (error as Error).message }],
      'invalid_binary_header',
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(split.headerText);
  } catch (error) {
    throw badRequest(
      `the JSON header of the binary body is not valid JSON: ${(error as Error).message}. Inference-Header-Content-Length says it is the first ${declared.toLocaleString('en-US')} bytes of the ${context.rawBody.byteLength.toLocaleString('en-US')}; a JSON request sends no such header (tritonclient writes it into the headers dict given to infer(), so a dict reused after a binary call carries it into the next call: pass a new dict each time)`,
      [{ path: `header/${HEADER_LENGTH_HEADER}`, message: 'does not delimit a JSON header' }],
      'invalid_binary_header',
    );
  }
  checkJsonDepth(header, `header/${HEADER_LENGTH_HEADER}`);
  const details = context.operation.validateBody?.(header) ?? [];
  if (details.length)
    throw badRequest(
      `invalid request: ${details
        .map((d) => `${d.path} ${d.message}`)
        .slice(0, 3)
        .join('; ')}`,
      details,
    );
  return { request: header as InferenceRequest, binary: split.rest };
}

async function decodeInputs(
  context: RequestContext,
  request: InferenceRequest,
  binary: Uint8Array | undefined,
  served: ServedVersion,
): Promise<HostTensor[]> {
  const { config } = served;
  const byName = new Map<string, number>();
  request.inputs.forEach((input, i) => {
    // TF.js models cannot run on a tensor without elements (an empty batch among them).
    if (input.shape.includes(0))
      throw badRequest(
        `input '${input.name}' has no elements (shape [${input.shape}])`,
        [{ path: `/inputs/${i}/shape`, message: 'every dimension must be at least 1' }],
        'shape_mismatch',
      );
    if (byName.has(input.name))
      throw badRequest(
        `input '${input.name}' is given twice`,
        [{ path: `/inputs/${i}/name`, message: 'duplicate input' }],
        'duplicate_input',
      );
    if (!config.inputs.some((spec) => spec.name === input.name)) {
      throw badRequest(
        `model '${config.name}' has no input '${input.name}' (inputs: ${config.inputs.map((s) => s.name).join(', ')})`,
        [{ path: `/inputs/${i}/name`, message: `unknown input; expected one of ${config.inputs.map((s) => s.name).join(', ')}` }],
        'unknown_input',
      );
    }
    byName.set(input.name, i);
  });

  // Binary inputs' bytes follow the header in the order the inputs are listed.
  const binarySlices = new Map<number, Uint8Array>();
  let offset = 0;
  request.inputs.forEach((input, i) => {
    const size = input.parameters?.binary_data_size;
    if (size === undefined) return;
    if (!binary || offset + size > binary.byteLength) {
      throw badRequest(
        `input '${input.name}' declares ${size} binary bytes but only ${(binary?.byteLength ?? 0) - offset} remain in the body`,
        [{ path: `/inputs/${i}/parameters/binary_data_size`, message: 'exceeds the binary data sent' }],
        'invalid_binary_header',
      );
    }
    binarySlices.set(i, binary.subarray(offset, offset + size));
    offset += size;
  });
  if (binary && offset !== binary.byteLength) {
    throw badRequest(
      `the body has ${binary.byteLength - offset} bytes after the binary inputs it declares`,
      [{ path: `header/${HEADER_LENGTH_HEADER}`, message: 'binary_data_size values do not add up to the body' }],
      'invalid_binary_header',
    );
  }

  // What every input declares is checked before any input's data is decoded: a request that is
  // wrong about its datatype, shape or size costs no more than its parsed body.
  const { options } = context.state;
  const limits = { maxElements: options.maxInputElements, maxStrings: options.maxInputStrings };
  const image = config.preprocessing?.image;
  const planned = config.inputs.map((spec) => {
    const i = byName.get(spec.name);
    if (i === undefined)
      throw badRequest(
        `input '${spec.name}' is missing`,
        [{ path: '/inputs', message: `input '${spec.name}' is required` }],
        'missing_input',
      );
    const input = request.inputs[i]!;
    const images = image?.input === spec.name && input.datatype === 'BYTES' ? image : undefined;
    if (images) checkImageBatch(input, i, images, limits);
    else checkDeclaredInput(input, spec, i, limits);
    return { input, i, images };
  });
  const tensors: HostTensor[] = [];
  for (const { input, i, images } of planned) {
    const bytes = binarySlices.get(i);
    if (images) {
      const encoded = bytes ? decodeBinaryInput(input, i, bytes) : decodeJsonInput(input, i, { base64Bytes: true });
      tensors.push(await decodeImages(context.state.runtime, encoded.values as Uint8Array[], images, i, options.maxImagePixels));
    } else if (bytes) tensors.push(decodeBinaryInput(input, i, bytes, served.storage));
    else tensors.push(decodeJsonInput(input, i, { storage: served.storage }));
  }
  const batch = tensors[0]?.shape[0];
  tensors.forEach((t, i) => {
    if (config.inputs[i]!.shape[0] === -1 && t.shape[0] !== batch) {
      throw badRequest(
        `inputs disagree on the batch size: '${config.inputs[0]!.name}' has ${batch}, '${config.inputs[i]!.name}' has ${t.shape[0]}`,
        [{ path: `/inputs/${byName.get(config.inputs[i]!.name)}/shape`, message: `batch dimension must be ${batch}` }],
        'shape_mismatch',
      );
    }
  });
  return tensors;
}

/** A batch of encoded images: as many as a BYTES input may hold, and the FP32 tensor they become within the element limit. */
function checkImageBatch(input: RequestInput, index: number, image: ImagePreprocessing, limits: InputLimits): void {
  const count = elementCount(input.shape);
  checkElementLimit(input.name, index, count, limits.maxStrings, 'max-input-strings', 'images');
  const pixels = image.height * image.width * image.channels;
  checkElementLimit(input.name, index, count * pixels, limits.maxElements, 'max-input-elements', 'elements once decoded');
}

interface OutputPlan {
  index: number;
  name: string;
  datatype: Datatype;
  binary: boolean;
  classification: number | undefined;
}

/** Which outputs to return and how; checked before the model runs. */
function planOutputs(request: InferenceRequest, served: ServedVersion): OutputPlan[] {
  const { config } = served;
  const allBinary = request.parameters?.binary_data_output === true;
  const requested = request.outputs ?? config.outputs.map((o) => ({ name: o.name, parameters: undefined }));
  return requested.map((output, i) => {
    const index = config.outputs.findIndex((spec) => spec.name === output.name);
    if (index < 0) {
      throw badRequest(
        `model '${config.name}' has no output '${output.name}' (outputs: ${config.outputs.map((s) => s.name).join(', ')})`,
        [{ path: `/outputs/${i}/name`, message: 'unknown output' }],
        'unknown_output',
      );
    }
    const classification = output.parameters?.classification as number | undefined;
    return {
      index,
      name: output.name,
      datatype: classification ? 'BYTES' : config.outputs[index]!.datatype,
      binary: (output.parameters?.binary_data as boolean | undefined) ?? allBinary,
      classification,
    };
  });
}

function encodeResponse(
  request: InferenceRequest,
  served: ServedVersion,
  plan: OutputPlan[],
  outputs: { shape: number[]; values: unknown }[],
): Reply {
  const chunks: Uint8Array[] = [];
  const what = `model '${served.name}' version ${served.version}`;
  const encoded: ResponseOutput[] = plan.map((p, i) => {
    const tensor = outputs[p.index];
    if (!tensor) throw new HttpError(500, 'internal_error', `model produced ${outputs.length} outputs, config declares output '${p.name}'`);
    const where = request.outputs ? `/outputs/${i}/parameters` : '/parameters';
    const top = p.classification
      ? classify(tensor.values as ArrayLike<number>, tensor.shape, p.classification, served.config.labels, {
          name: p.name,
          what,
          path: `${where}/classification`,
        })
      : undefined;
    // JSON numbers cannot be NaN or ±Infinity (JSON.stringify would write null); binary carries IEEE values.
    if (!top && !p.binary && p.datatype.startsWith('FP') && mayBeNonFinite(tensor.values)) {
      const remedy = 'ask for it in binary (binary_data: true) to receive the IEEE values';
      const path = request.outputs ? `${where}/binary_data` : `${where}/binary_data_output`;
      const error = nonFiniteOutput(p.name, tensor.values, tensor.shape, { what, remedy, path });
      if (error) throw error;
    }
    const { output, bytes } = encodeOutput(
      p.name,
      p.datatype,
      top?.shape ?? tensor.shape,
      (top?.values ?? tensor.values) as never,
      p.binary,
    );
    if (bytes) chunks.push(bytes);
    return output;
  });
  const body: InferenceResponse = {
    model_name: served.name,
    model_version: served.version,
    ...(request.id !== undefined ? { id: request.id } : {}),
    outputs: encoded,
  };
  if (!chunks.length) return json(body);
  const { body: bytes, headerLength } = encodeBinaryBody(body, chunks);
  return bytesReply(bytes, 200, { 'content-type': 'application/octet-stream', [HEADER_LENGTH_HEADER]: String(headerLength) });
}
