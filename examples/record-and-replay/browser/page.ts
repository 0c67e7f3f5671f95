/**
 * The app in a browser, against a model server that does not exist (http://models.invalid): msw's
 * service worker answers every call from the cassette. Bundled by run.ts (esbuild); in your own
 * front-end, start the worker the same way before the app's first call (Storybook, Playwright, dev).
 */
import { replayHandlers } from 'modelport/replay';
import { setupWorker } from 'msw/browser';
import { createModelApp } from '../app';

interface Inputs {
  digits: { label: number; pixels: number[] }[];
  flowers: { species: string; measurements: number[] }[];
}

export interface Row {
  input: string;
  answer: string;
  /** 'matched seq 3': which recording answered. */
  replay: string;
}

const baseUrl = 'http://models.invalid';

// Fetched before the worker starts: same-origin files are not the model server's.
const [cassette, inputs] = await Promise.all([
  fetch('./app.cassette.jsonl').then((response) => response.text()),
  fetch('./inputs.json').then((response) => response.json() as Promise<Inputs>),
]);
const worker = setupWorker(...replayHandlers(cassette, { baseUrl }));
// onUnhandledRequest 'error': a call the handlers do not cover fails instead of reaching a network.
await worker.start({ onUnhandledRequest: 'error', quiet: true });

let replay = '';
const app = createModelApp({
  baseUrl,
  fetch: async (input, init) => {
    const response = await fetch(input, init);
    replay = `${response.headers.get('modelport-replay')} seq ${response.headers.get('modelport-replay-seq')}`;
    return response;
  },
});

const rows: Row[] = [];
const table = document.getElementById('results') as HTMLTableSectionElement;
const show = (row: Row) => {
  rows.push(row);
  const line = table.insertRow();
  for (const text of [row.input, row.answer, row.replay]) line.insertCell().textContent = text;
};
document.getElementById('summary')!.textContent = `calling ${baseUrl}, where no server runs`;

for (const { label, pixels } of inputs.digits) {
  const reading = await app.readDigit(new Float32Array(pixels));
  show({ input: `digit ${label}`, answer: `${reading.digit} (confidence ${reading.confidence.toFixed(4)})`, replay });
}
for (const { species, measurements } of inputs.flowers) {
  show({ input: `flower ${species}`, answer: await app.nameFlower(measurements), replay });
}
document.body.dataset.rows = JSON.stringify(rows);
