/**
 * Pre- and post-processing declared in a model's config, as hosted model services do it:
 * encoded images (PNG/JPEG/GIF/BMP) for image inputs, and top-k classification outputs in
 * Triton's `"score:index:label"` form.
 */
import type { ImagePreprocessing } from '../registry/model-config';
import { badRequest, HttpError } from '../http/errors';
import { imageSize } from './image-size';
import { nonFiniteOutput } from './finite';
import type { Runtime } from './backend';
import type { HostTensor } from './tensors';

/**
 * Decodes a batch of encoded images into the FP32 tensor the model takes. Each image's size is
 * read from its header and bounded (`maxPixels`, frames included) before it is decoded; each is
 * decoded, resized and its full-size pixels freed before the next, with a turn of the event loop
 * between images, so a batch holds one full-size image at a time and never blocks for long.
 */
export async function decodeImages(
  runtime: Runtime,
  images: Uint8Array[],
  spec: ImagePreprocessing,
  inputIndex: number,
  maxPixels: number,
): Promise<HostTensor> {
  const { tf, node } = runtime;
  if (!node) {
    throw badRequest(
      `input '${spec.input}': decoding images needs the native TensorFlow backend (this server runs on ${runtime.backend}); send FP32 pixels instead`,
      undefined,
      'unsupported_input',
    );
  }
  images.forEach((bytes, i) => checkImageSize(bytes, i, spec, inputIndex, maxPixels));
  const perImage = spec.height * spec.width * spec.channels;
  const values = new Float32Array(images.length * perImage);
  for (let i = 0; i < images.length; i++) {
    if (i > 0) await new Promise((resolve) => setImmediate(resolve));
    const pixels = tf.tidy(() => {
      let image;
      try {
        image = node.decodeImage(images[i]!, spec.channels, 'int32', false) as import('./tfjs').Tensor3D;
      } catch {
        throw notAnImage(spec, i, inputIndex);
      }
      const resized = tf.image.resizeBilinear(image.toFloat(), [spec.height, spec.width]);
      const scaled = resized.mul(spec.scale);
      return spec.invert ? tf.scalar(255 * spec.scale).sub(scaled) : scaled;
    });
    values.set(pixels.dataSync() as Float32Array, i * perImage);
    pixels.dispose();
  }
  return { datatype: 'FP32', dtype: 'float32', shape: [images.length, spec.height, spec.width, spec.channels], values };
}

function checkImageSize(bytes: Uint8Array, i: number, spec: ImagePreprocessing, inputIndex: number, maxPixels: number): void {
  const size = imageSize(bytes);
  if (!size) throw notAnImage(spec, i, inputIndex);
  const pixels = size.width * size.height * size.frames;
  if (pixels <= maxPixels) return;
  const frames = size.frames > 1 ? ` in ${size.frames} frames` : '';
  throw new HttpError(
    413,
    'input_too_large',
    `input '${spec.input}': element ${i} is a ${size.width}×${size.height} ${size.format}${frames} (${pixels.toLocaleString('en-US')} pixels); the limit is ${maxPixels.toLocaleString('en-US')} pixels per image (--max-image-pixels)`,
    [{ path: `/inputs/${inputIndex}/data`, message: `element ${i} has ${pixels} pixels, more than the limit of ${maxPixels}` }],
  );
}

function notAnImage(spec: ImagePreprocessing, i: number, inputIndex: number): HttpError {
  return badRequest(
    `input '${spec.input}': element ${i} is not a PNG, JPEG, GIF or BMP image`,
    [{ path: `/inputs/${inputIndex}/data`, message: `element ${i} is not a decodable image` }],
    'invalid_image',
  );
}

/**
 * The top `k` classes of each row, as Triton's classification extension returns them. Scores that
 * are NaN or ±Infinity cannot be ranked (NaN compares false with everything) nor written as JSON
 * numbers: they fail with `non_finite_output`, naming the output (`output.what` says whose).
 */
export function classify(
  values: ArrayLike<number> | BigInt64Array | BigUint64Array,
  shape: number[],
  k: number,
  labels: string[] | undefined,
  output: { name: string; what: string; path?: string },
): { shape: number[]; values: string[] } {
  // INT64/UINT64 scores rank as numbers (exact within ±2^53) and print exactly, as their digits.
  const scores: ArrayLike<number> =
    values instanceof BigInt64Array || values instanceof BigUint64Array ? Array.from(values, Number) : values;
  const nonFinite = nonFiniteOutput(output.name, scores, shape, {
    what: output.what,
    remedy: 'ask for the output without classification, in binary (binary_data: true), to receive the IEEE scores',
    path: output.path,
  });
  if (nonFinite) throw nonFinite;
  const rows = shape[0] ?? 1;
  const classes = rows === 0 ? 0 : values.length / rows;
  const top = Math.min(k, classes);
  const out: string[] = [];
  for (let r = 0; r < rows; r++) {
    const indices = Array.from({ length: classes }, (_, c) => c);
    indices.sort((a, b) => scores[r * classes + b]! - scores[r * classes + a]!);
    for (const index of indices.slice(0, top)) {
      const score = String(values[r * classes + index]!);
      out.push(labels?.[index] !== undefined ? `${score}:${index}:${labels[index]}` : `${score}:${index}`);
    }
  }
  return { shape: [rows, top], values: out };
}
