/**
 * Records the app's real predictions into a cassette, once, against a real server:
 *
 *   npx modelport serve --port 8700 &                       # or KServe, Triton: any OIP server
 *   MODELPORT_URL=http://127.0.0.1:8700 MODELPORT_API_KEY=... \
 *     npx tsx examples/record-and-replay/record.ts examples/record-and-replay/app.cassette.jsonl
 *
 * It starts `modelport record` (a recording proxy on 127.0.0.1) in front of MODELPORT_URL, runs the
 * app through the proxy on every input of inputs.json, then stops the proxy (SIGTERM), which writes
 * the last lines and prints how many it recorded. The API key is forwarded, never written.
 * The committed app.cassette.jsonl was made this way against `modelport serve` and the bundled models.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createModelApp } from './app';

interface Inputs {
  digits: { label: number; pixels: number[] }[];
  flowers: { species: string; measurements: number[] }[];
}

const upstream = process.env.MODELPORT_URL;
const cassette = process.argv[2];
if (!upstream || !cassette) {
  console.error('usage: MODELPORT_URL=<server> [MODELPORT_API_KEY=<key>] tsx examples/record-and-replay/record.ts <cassette.jsonl>');
  process.exit(2);
}
const inputs = JSON.parse(readFileSync(new URL('./inputs.json', import.meta.url), 'utf8')) as Inputs;

// The `modelport` command of the project's node_modules (the @modelport/server package).
const proxy = spawn(path.resolve('node_modules/.bin/modelport'), ['record', '--upstream', upstream, '--cassette', cassette], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
let printed = '';
proxy.stdout.setEncoding('utf8').on('data', (chunk: string) => (printed += chunk));
const exited = new Promise<number | null>((resolve) => proxy.once('exit', resolve));
const proxyUrl = await new Promise<string>((resolve, reject) => {
  proxy.stdout.on('data', () => {
    const found = /proxy listening on (http:\/\/\S+)/.exec(printed);
    if (found) resolve(found[1]!);
  });
  void exited.then((code) => reject(new Error(`modelport record exited with ${code} before listening`)));
});
console.log(printed.trim());

try {
  const app = createModelApp({ baseUrl: proxyUrl, apiKey: process.env.MODELPORT_API_KEY });
  console.log(`digits model ready: ${await app.ready()}`);
  for (const { label, pixels } of inputs.digits) {
    const reading = await app.readDigit(new Float32Array(pixels));
    console.log(`digit ${label} read as ${reading.digit} (confidence ${reading.confidence.toFixed(4)})`);
  }
  for (const { species, measurements } of inputs.flowers) {
    console.log(`flower ${species} named ${await app.nameFlower(measurements)}`);
  }
} finally {
  proxy.kill('SIGTERM');
}
const code = await exited;
console.log(printed.split('\n').find((line) => line.includes('recorded')) ?? '');
process.exit(code ?? 1);
