// Runs SDK calls from a page on another origin than the server (so CORS is real), renders
// each result in a table (for the screenshot) and returns them all to the test.
import { Modelport, APIError, ModelportError, NotFoundError } from './sdk.js';

const rows = document.getElementById('results');
const summary = document.getElementById('summary');

function show(name, ok, value) {
  const row = document.createElement('tr');
  row.className = ok ? 'pass' : 'fail';
  const cells = [name, ok ? 'returned' : 'threw', JSON.stringify(value)];
  cells.forEach((text, i) => {
    const cell = document.createElement('td');
    if (i === 1) cell.className = 'status';
    const content = i === 2 ? document.createElement('code') : cell;
    content.textContent = text;
    if (i === 2) cell.append(content);
    row.append(cell);
  });
  rows.append(row);
}

/** Runs one named check; a throw is recorded (and shown) as `{ thrown }` instead of ending the run. */
async function check(results, name, run) {
  try {
    results[name] = await run();
    show(name, true, results[name]);
  } catch (error) {
    results[name] = { thrown: `${error?.name}: ${error?.message}` };
    show(name, false, results[name]);
  }
}

window.runSdkChecks = async ({ baseUrl, apiKey, digit, irisFiles, noCorsUrl }) => {
  summary.textContent = `page ${location.origin} calling ${baseUrl}`;
  const client = new Modelport({ baseUrl, apiKey, maxRetries: 0 });
  const results = {};

  await check(results, 'health.ready', () => client.health.ready());

  await check(results, 'server.metadata', async () => {
    const metadata = await client.server.metadata();
    return { name: metadata.name, version: metadata.version, backend: metadata.runtime?.backend };
  });

  await check(results, 'predict iris', async () => {
    const prediction = await client.predict('iris', [[5.1, 3.5, 1.4, 0.2]]);
    const { name, datatype, shape, data } = prediction.output;
    return { labels: prediction.labels, output: { name, datatype, shape, typedArray: data.constructor.name } };
  });

  let jsonProbabilities;
  await check(results, 'predict digits', async () => {
    const prediction = await client.predict('digits', new Float32Array(digit), { topK: 3 });
    jsonProbabilities = prediction.output.data;
    return { labels: prediction.labels, top3: prediction.classes[0].map((c) => c.label), shape: prediction.output.shape };
  });

  await check(results, 'predict digits (binary)', async () => {
    const prediction = await client.predict('digits', new Float32Array(digit), { binary: true });
    const data = prediction.output.data;
    const maxDifference = Math.max(...Array.from(data, (p, i) => Math.abs(p - jsonProbabilities[i])));
    return {
      labels: prediction.labels,
      shape: prediction.output.shape,
      typedArray: data.constructor.name,
      sameAsJson: maxDifference < 1e-6,
    };
  });

  await check(results, 'unknown model', async () => {
    const error = await client.predict('no-such-model', [[1, 2, 3, 4]]).then(
      () => undefined,
      (e) => e,
    );
    return {
      notFoundError: error instanceof NotFoundError,
      apiError: error instanceof APIError,
      modelportError: error instanceof ModelportError,
      name: error?.name,
      status: error?.status,
      code: error?.code,
      // Readable only when the server exposes the header to this origin.
      requestIdHeader: error?.headers?.get('x-request-id') === error?.requestId && typeof error?.requestId === 'string',
    };
  });

  await check(results, 'versions.upload from File objects', async () => {
    const files = irisFiles.map(({ name, bytes, type }) => new File([new Uint8Array(bytes)], name, { type }));
    const progress = [];
    const version = await client.models.versions.upload('iris', { files }, { onProgress: (p) => progress.push(p.percent) });
    const prediction = await client.predict('iris', [[6.7, 3.0, 5.2, 2.3]], { version: version.version });
    return {
      model: version.model,
      version: version.version,
      state: version.state,
      predictedWithIt: prediction.labels,
      servedVersion: prediction.version,
      progress,
    };
  });

  await check(results, 'a server that does not allow this origin', async () => {
    const error = await new Modelport({ baseUrl: noCorsUrl, maxRetries: 0 }).health.live().then(
      () => undefined,
      (e) => e,
    );
    return {
      name: error?.name,
      modelportError: error instanceof ModelportError,
      hintsCors: error?.message.includes(`start modelport with --cors ${location.origin}`),
    };
  });

  const failed = Object.entries(results).filter(([, value]) => value && 'thrown' in value).length;
  summary.textContent += ` — ${Object.keys(results).length - failed} calls returned, ${failed} threw`;
  return results;
};

document.body.dataset.ready = 'true';
