/**
 * Pre- and post-processing declared in a model's config, as hosted model services do it:
 * encoded images (PNG/JPEG/GIF/BMP) for image inputs, and top-k classification outputs in
 * Triton's `"score:index:label"` form.
 */
import type { ImagePreprocessing } from '../registry/model-config';
import { badRequest } from '../http/errors';
import type { Runtime } from './backend';
import type { HostTensor } from './tensors';

/** Decodes a batch of encoded images into the FP32 tensor the model takes. */
export function decodeImages(runtime: Runtime, images: Uint8Array[], spec: ImagePreprocessing, inputIndex: number): HostTensor {
  const { tf, node } = runtime;
  if (!node) {
    throw badRequest(
      `input '${spec.input}': decoding images needs the native TensorFlow backend (this server runs on ${runtime.backend}); send FP32 pixels instead`,
      undefined,
      'unsupported_input',
    );
  }
  const values = tf.tidy(() => {
    const decoded = images.map((bytes, i) => {
      let image;
      try {
        image = node.decodeImage(bytes, spec.channels, 'int32', false) as import('./tfjs').Tensor3D;
      } catch {
        throw badRequest(
          `input '${spec.input}': element ${i} is not a PNG, JPEG, GIF or BMP image`,
          [{ path: `/inputs/${inputIndex}/data`, message: `element ${i} is not a decodable image` }],
          'invalid_image',
        );
      }
      const resized = tf.image.resizeBilinear(image.toFloat(), [spec.height, spec.width]);
      const scaled = resized.mul(spec.scale);
      return spec.invert ? tf.scalar(255 * spec.scale).sub(scaled) : scaled;
    });
    return tf.stack(decoded).dataSync() as Float32Array;
  });
  return { datatype: 'FP32', dtype: 'float32', shape: [images.length, spec.height, spec.width, spec.channels], values };
}

/** The top `k` classes of each row, as Triton's classification extension returns them. */
export function classify(
  values: ArrayLike<number>,
  shape: number[],
  k: number,
  labels: string[] | undefined,
): { shape: number[]; values: string[] } {
  const rows = shape[0] ?? 1;
  const classes = rows === 0 ? 0 : values.length / rows;
  const top = Math.min(k, classes);
  const out: string[] = [];
  for (let r = 0; r < rows; r++) {
    const indices = Array.from({ length: classes }, (_, c) => c);
    indices.sort((a, b) => values[r * classes + b]! - values[r * classes + a]!);
    for (const index of indices.slice(0, top)) {
      const score = values[r * classes + index]!;
      out.push(labels?.[index] !== undefined ? `${score}:${index}:${labels[index]}` : `${score}:${index}`);
    }
  }
  return { shape: [rows, top], values: out };
}
