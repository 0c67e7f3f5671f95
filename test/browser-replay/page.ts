/**
 * Bundled by esbuild (test/browser-replay.test.ts) with the SDK, modelport/replay and msw/browser:
 * msw's service worker answers the SDK's calls from a recorded cassette, against a base URL where
 * no server listens. Every result (decoded outputs, replay headers, errors) goes back to the test.
 */
import { Modelport, ModelportError } from 'modelport';
import { replayHandlers } from 'modelport/replay';
import { setupWorker } from 'msw/browser';

interface ReplayChecks {
  cassette: string;
  baseUrl: string;
  digits: { label: number; pixels: number[] }[];
  flowers: { species: string; measurements: number[] }[];
  /** The pixel changed by 0.5 in the strict-miss and nearest checks. */
  changedPixel: number;
}

interface ReplayHeaders {
  replay: string | null;
  seq: string | null;
  nearest: string | null;
}

const rows = document.getElementById('results') as HTMLTableSectionElement;
const summary = document.getElementById('summary')!;

function show(name: string, value: unknown): void {
  const row = rows.insertRow();
  row.insertCell().textContent = name;
  const code = document.createElement('code');
  code.textContent = JSON.stringify(value);
  row.insertCell().append(code);
}

/** A client whose fetch keeps the replay headers of the last response. */
function replayClient(baseUrl: string) {
  const last: { headers?: ReplayHeaders } = {};
  const client = new Modelport({
    baseUrl,
    maxRetries: 0,
    fetch: async (input, init) => {
      const response = await fetch(input, init);
      const header = (name: string) => response.headers.get(name);
      last.headers = {
        replay: header('modelport-replay'),
        seq: header('modelport-replay-seq'),
        nearest: header('modelport-replay-nearest'),
      };
      return response;
    },
  });
  return { client, headers: () => last.headers };
}

async function thrown(run: () => Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    return { returned: await run() };
  } catch (error) {
    const { name, message, status } = error as ModelportError & { status?: number };
    return { name, message, status, modelportError: error instanceof ModelportError };
  }
}

const worker = setupWorker();
let started = false;

(window as unknown as { runReplayChecks(args: ReplayChecks): Promise<Record<string, unknown>> }).runReplayChecks = async (args) => {
  const results: Record<string, unknown> = {};
  const record = (name: string, value: unknown) => {
    results[name] = value;
    show(name, value);
  };
  if (!started) {
    // Any request no handler answers is an error: nothing may reach a network.
    await worker.start({ onUnhandledRequest: 'error', quiet: true, serviceWorker: { url: '/mockServiceWorker.js' } });
    started = true;
  }
  worker.resetHandlers(...replayHandlers(args.cassette));
  summary.textContent = `page ${location.origin}, SDK calling ${args.baseUrl} (no server there), answered by the service worker`;
  const { client, headers } = replayClient(args.baseUrl);

  record('ready', { ready: (await client.models.ready('digits')).ready, headers: headers() });
  const metadata = await client.models.metadata('digits');
  record('metadata', { name: metadata.name, inputs: metadata.inputs, outputs: metadata.outputs, headers: headers() });
  const digits = [];
  for (const { pixels } of args.digits) {
    const prediction = await client.predict('digits', new Float32Array(pixels), { binary: true });
    digits.push({
      labels: prediction.labels,
      shape: prediction.output.shape,
      data: Array.from(prediction.output.data as Float32Array),
      headers: headers(),
    });
  }
  record('digits (binary)', digits);
  const flowers = [];
  for (const { measurements } of args.flowers) {
    const prediction = await client.predict('iris', [measurements]);
    flowers.push({ labels: prediction.labels, data: Array.from(prediction.output.data as Float32Array), headers: headers() });
  }
  record('flowers (JSON)', flowers);

  const first = args.digits[0]!.pixels;
  const perturbed = await client.predict('digits', new Float32Array(first.map((value) => value + 1e-7)), { binary: true });
  record('digit perturbed by 1e-7', { data: Array.from(perturbed.output.data as Float32Array), headers: headers() });

  const changed = Float32Array.from(first);
  changed[args.changedPixel]! += 0.5;
  record('one pixel +0.5, strict', await thrown(() => client.predict('digits', changed, { binary: true })));

  record('a call never recorded', await thrown(() => client.models.ready('iris')));

  worker.resetHandlers(...replayHandlers(args.cassette, { mode: 'nearest' }));
  const nearest = await client.predict('digits', changed, { binary: true });
  record('one pixel +0.5, nearest', { data: Array.from(nearest.output.data as Float32Array), headers: headers() });
  worker.resetHandlers(...replayHandlers(args.cassette));
  return results;
};
document.body.dataset.ready = 'true';
