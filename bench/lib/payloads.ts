/** The requests every HTTP scenario sends: one real 28x28 MNIST digit, as JSON and as binary. */
import { HEADER_LENGTH_HEADER, encodeBinaryBody } from '../../src/core/binary';
import { loadMnistSplit } from '../../mock-server/datasets/mnist-split';

export const INFER_PATH = '/v2/models/digits/infer';

export interface Payloads {
  /** The digit's 784 pixels in [0, 1]. */
  pixels: Float32Array;
  label: number;
  /** OIP JSON request, exactly as the SDK's `predict` serialises a Float32Array. */
  json: string;
  jsonHeaders: Record<string, string>;
  /** Binary tensor extension: JSON header + 3,136 bytes in, binary probabilities out. */
  binary: Uint8Array;
  binaryHeaders: Record<string, string>;
  /** Training data for the epoch benchmarks: n*784 float32 pixels then n int32 labels. */
  trainingFile(n: number): Uint8Array;
}

export function payloads(): Payloads {
  const { train, test } = loadMnistSplit();
  const pixels = test.x.slice(0, 784);
  const label = test.y[0]!;
  const json = JSON.stringify({ inputs: [{ name: 'image', shape: [1, 28, 28, 1], datatype: 'FP32', data: Array.from(pixels) }] });
  const bytes = new Uint8Array(pixels.buffer.slice(0));
  const { body, headerLength } = encodeBinaryBody(
    {
      inputs: [{ name: 'image', shape: [1, 28, 28, 1], datatype: 'FP32', parameters: { binary_data_size: bytes.byteLength } }],
      parameters: { binary_data_output: true },
    },
    [bytes],
  );
  return {
    pixels,
    label,
    json,
    jsonHeaders: { 'content-type': 'application/json' },
    binary: body,
    binaryHeaders: { 'content-type': 'application/octet-stream', [HEADER_LENGTH_HEADER]: String(headerLength) },
    trainingFile(n) {
      if (n > train.n) throw new RangeError(`only ${train.n} training digits`);
      const out = new Uint8Array(n * 784 * 4 + n * 4);
      out.set(new Uint8Array(train.x.buffer, train.x.byteOffset, n * 784 * 4), 0);
      out.set(new Uint8Array(train.y.buffer, train.y.byteOffset, n * 4), n * 784 * 4);
      return out;
    },
  };
}
