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
 *
 * With `--sdk` it records without a proxy: the app's SDK client gets the fetch of `recordCassette`
 * (`modelport/record`, Node only), which writes the same cassette format; what an app's own test
 * run can do.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { recordCassette } from 'modelport/record';
import { createModelApp } from './app';

interface Inputs {
  digits: { label: number; pixels: number[] }[];
  flowers: { species: string; measurements: number[] }[];
}

const upstream = process.env.MODELPORT_URL;
const cassette = process.argv[2];
if (!upstream || !cassette) {
  console.error(
    'usage: MODELPORT_URL=<server> [MODELPORT_API_KEY=<key>] tsx examples/record-and-replay/record.ts <cassette.jsonl> [--sdk]',
  );
  process.exit(2);
}
const inputs = JSON.parse(readFileSync(new URL('./inputs.json', import.meta.url), 'utf8')) as Inputs;

const app = (baseUrl: string, fetch?: typeof globalThis.fetch) => createModelApp({ baseUrl, apiKey: process.env.MODELPORT_API_KEY, fetch });

if (process.argv.includes('--sdk')) {
  const recorder = await recordCassette(cassette, { upstream });
  console.log(`recording ${upstream} into ${recorder.path} with the SDK's fetch`);
  try {
    await runApp(app(upstream, recorder.fetch));
  } finally {
    await recorder.close();
  }
  console.log(`recorded ${recorder.count} interactions into ${recorder.path}`);
} else {
  await recordThroughProxy(upstream, cassette);
}

/** Every input of inputs.json, through the app. */
async function runApp(modelApp: ReturnType<typeof createModelApp>): Promise<void> {
  console.log(`digits model ready: ${await modelApp.ready()}`);
  for (const { label, pixels } of inputs.digits) {
    const reading = await modelApp.readDigit(new Float32Array(pixels));
    console.log(`digit ${label} read as ${reading.digit} (confidence ${reading.confidence.toFixed(4)})`);
  }
  for (const { species, measurements } of inputs.flowers) console.log(`flower ${species} named ${await modelApp.nameFlower(measurements)}`);
}

/** `modelport record` in front of the server, the app through it, then SIGTERM (the proxy finishes the file and says how many). */
async function recordThroughProxy(server: string, file: string): Promise<void> {
  // The `modelport` command of the project's node_modules (the @modelport/server package).
  const proxy = spawn(path.resolve('node_modules/.bin/modelport'), ['record', '--upstream', server, '--cassette', file], {
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
    await runApp(app(proxyUrl));
  } finally {
    proxy.kill('SIGTERM');
  }
  const code = await exited;
  console.log(printed.split('\n').find((line) => line.includes('recorded')) ?? '');
  if (code !== 0) process.exit(code ?? 1);
}
