/**
 * The replay half of test/replay-acceptance.test.ts, in a process started with
 * test/support/forbid-tensorflow.mjs (it cannot load TensorFlow). It imports only the SDK, its
 * replay subpath and msw, answers the recorded requests from the cassette, and prints one JSON
 * line of what it saw for the test to check.
 *
 * argv: <cassette.jsonl> <requests.json> (RecordedCall[]: what the test sent through the proxy)
 */
import { readFileSync } from 'node:fs';
import { setupServer } from 'msw/node';
import { Modelport } from 'modelport';
import { replayHandlers } from 'modelport/replay';

export interface RecordedCall {
  model: string;
  binary: boolean;
  input: number[];
}

export interface ReplayChildReport {
  /** Per recorded call, in order: the decoded first output as replayed. */
  outputs: { data: number[]; shape: number[] }[];
  /** The same calls with every input element moved by 1e-7. */
  perturbed: { data: number[]; shape: number[] }[];
  health: unknown;
  serverMetadata: unknown;
  strict: { status: number | undefined; message: string };
  nearest: { replayHeader: string | null; seqHeader: string | null; nearestHeader: string | null; data: number[] };
  tensorflowMapped: boolean;
}

const [cassettePath, callsPath] = process.argv.slice(2) as [string, string];
const cassette = readFileSync(cassettePath, 'utf8');
const calls = JSON.parse(readFileSync(callsPath, 'utf8')) as RecordedCall[];
// No server listens here: every answer comes from the cassette.
const baseUrl = 'http://replay.invalid:8700';

const mocks = setupServer(...replayHandlers(cassette));
mocks.listen({ onUnhandledRequest: 'error' });

const headersSeen: Headers[] = [];
const client = new Modelport({
  baseUrl,
  maxRetries: 0,
  fetch: async (input, init) => {
    const response = await fetch(input, init);
    headersSeen.push(response.headers);
    return response;
  },
});

async function predictAll(shift: number) {
  const outputs: { data: number[]; shape: number[] }[] = [];
  for (const call of calls) {
    const input = Float32Array.from(call.input, (value) => value + shift);
    const prediction = await client.predict(call.model, input, { binary: call.binary });
    outputs.push({ data: Array.from(prediction.output.data as Float32Array), shape: prediction.output.shape });
  }
  return outputs;
}

const report: Partial<ReplayChildReport> = {};
report.health = await client.health.ready();
report.serverMetadata = await client.server.metadata();
report.outputs = await predictAll(0);
report.perturbed = await predictAll(1e-7);

// The corner pixel (0 in every MNIST digit) of the first recorded digit set to 0.5: no recording is within tolerance.
const digit = calls.find((call) => call.model === 'digits')!;
const changed = Float32Array.from(digit.input);
changed[0] = changed[0]! + 0.5;
const refused = await client.predict('digits', changed, { binary: digit.binary }).catch((error: Error & { status?: number }) => error);
report.strict = { status: (refused as { status?: number }).status, message: (refused as Error).message };

mocks.resetHandlers(...replayHandlers(cassette, { mode: 'nearest' }));
const nearest = await client.predict('digits', changed, { binary: digit.binary });
const headers = headersSeen.at(-1)!;
report.nearest = {
  replayHeader: headers.get('modelport-replay'),
  seqHeader: headers.get('modelport-replay-seq'),
  nearestHeader: headers.get('modelport-replay-nearest'),
  data: Array.from(nearest.output.data as Float32Array),
};

mocks.close();
report.tensorflowMapped = /tensorflow|tfjs/i.test(readFileSync('/proc/self/maps', 'utf8'));
process.stdout.write(`${JSON.stringify(report)}\n`);
