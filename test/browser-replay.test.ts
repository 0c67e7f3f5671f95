/**
 * Replay in a real browser (issue #21): test/browser-replay/page.ts, bundled by esbuild with the SDK,
 * `modelport/replay` and `msw/browser`, runs in headless Debian Chromium (playwright-core, as
 * test/browser.test.ts). msw's service worker (node_modules/msw/lib/mockServiceWorker.js, served at
 * the page's origin root) answers the SDK's calls from a cassette of real predictions, against a
 * base URL where nothing listens; no model server runs in this test, only a static file server.
 *
 * The cassette is examples/record-and-replay/app.cassette.jsonl: the app of that example recorded
 * through `modelport record` against `modelport serve` and the bundled digits and iris models
 * (examples/record-and-replay/record.ts makes it; test/examples.test.ts records it again and checks
 * the committed one answers the same).
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { interactionTensors, matchRequest, parseCassette, type Interaction } from '../src/cassette/index';
import { asciiHeaderValue } from '../src/cassette/replayer';
import { bundleForBrowser, chromiumInstalled, launchChromium, serveStatic, type StaticServer } from './support/chromium';
import { freePort } from './support/free-port';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PAGE_DIR = path.join(ROOT, 'test/browser-replay');
const EXAMPLE_DIR = path.join(ROOT, 'examples/record-and-replay');
const SCREENSHOT = path.join(ROOT, 'test-artifacts/browser-replay.png');
/** The pixel the miss checks change by 0.5: the top-left corner, 0 in every MNIST digit. */
const CHANGED_PIXEL = 0;

const hasChromium = chromiumInstalled('test/browser-replay.test.ts', 'the replay-in-a-browser test is SKIPPED');

interface Inputs {
  digits: { label: number; pixels: number[] }[];
  flowers: { species: string; measurements: number[] }[];
}

const cassetteText = readFileSync(path.join(EXAMPLE_DIR, 'app.cassette.jsonl'), 'utf8');
const cassette = parseCassette(cassetteText);
const inputs = JSON.parse(readFileSync(path.join(EXAMPLE_DIR, 'inputs.json'), 'utf8')) as Inputs;
const inferCalls = (model: string) => cassette.interactions.filter((i) => i.request.path === `/v2/models/${model}/infer`);

/** What the SDK decodes from a recording: its output's data, as plain numbers (what page.evaluate returns). */
const recordedOutput = (interaction: Interaction) => Array.from(interactionTensors(interaction).outputs[0]!.data as Float32Array);
const matched = (interaction: Interaction) => ({ replay: 'matched', seq: String(interaction.seq), nearest: null });

describe.skipIf(!hasChromium)('a cassette replayed by msw in headless Chromium, from the esbuild bundle', () => {
  let pageServer: StaticServer;
  let pageOrigin: string;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];
  const consoleErrors: { text: string; url: string }[] = [];

  beforeAll(async () => {
    // `modelport` and `modelport/replay` resolve to src/ through the repository's tsconfig paths.
    const code = await bundleForBrowser(path.join(PAGE_DIR, 'page.ts'));
    const files: Record<string, [body: Uint8Array | string, type: string]> = {
      '/': [readFileSync(path.join(PAGE_DIR, 'page.html')), 'text/html; charset=utf-8'],
      '/page.js': [code, 'text/javascript; charset=utf-8'],
      '/mockServiceWorker.js': [
        readFileSync(path.join(ROOT, 'node_modules/msw/lib/mockServiceWorker.js')),
        'text/javascript; charset=utf-8',
      ],
    };
    pageServer = await serveStatic(files);
    pageOrigin = pageServer.origin;
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 600 } });
    page.on('pageerror', (error) => pageErrors.push(error.stack ?? error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push({ text: message.text(), url: message.location().url });
    });
    console.log(
      `browser replay: page bundle (SDK + modelport/replay + msw/browser) ${code.byteLength} B minified, ` +
        `${gzipSync(code, { level: 9 }).byteLength} B min+gzip; Chromium ${browser.version()}, page ${pageOrigin}`,
    );
  });

  afterAll(async () => {
    await browser?.close();
    await pageServer?.close();
  });

  it('answers the SDK with the recorded outputs exactly; a miss names the closest recording (or lists what was recorded); nearest mode says so', async () => {
    const baseUrl = `http://127.0.0.1:${await freePort()}`;
    // Nothing answers there: whatever the page gets comes from the service worker.
    await expect(fetch(`${baseUrl}/v2/health/ready`)).rejects.toThrow('fetch failed');

    await page.goto(`${pageOrigin}/`);
    await page.waitForFunction(() => document.body.dataset.ready === 'true', undefined, { timeout: 10_000 });
    const results = await page.evaluate(
      (args) => (window as unknown as { runReplayChecks(a: typeof args): Promise<Record<string, unknown>> }).runReplayChecks(args),
      { cassette: cassetteText, baseUrl, digits: inputs.digits, flowers: inputs.flowers, changedPixel: CHANGED_PIXEL },
    );
    await mkdir(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    const digitCalls = inferCalls('digits');
    const flowerCalls = inferCalls('iris');
    expect(digitCalls).toHaveLength(inputs.digits.length);
    expect(flowerCalls).toHaveLength(inputs.flowers.length);
    const ready = cassette.interactions.find((i) => i.request.path === '/v2/models/digits/ready')!;
    const metadata = cassette.interactions.find((i) => i.request.path === '/v2/models/digits')!;
    const recordedMetadata = (metadata.response.body as { json: { name: string; inputs: unknown; outputs: unknown } }).json;

    // The miss: the first digit with one pixel +0.5, as the matcher sees it (JSON or binary decode the same tensor).
    const recordedInput = interactionTensors(digitCalls[0]!).inputs[0]!;
    const changed = Float32Array.from(inputs.digits[0]!.pixels);
    changed[CHANGED_PIXEL]! += 0.5;
    const incoming = {
      method: 'POST',
      path: '/v2/models/digits/infer',
      body: { json: { inputs: [{ name: recordedInput.name, datatype: 'FP32', shape: recordedInput.shape, data: Array.from(changed) }] } },
    };
    const strict = matchRequest(cassette, incoming);
    const nearest = matchRequest(cassette, incoming, { mode: 'nearest' });
    if (strict.outcome !== 'unmatched' || nearest.outcome !== 'nearest')
      throw new Error(`expected a miss: ${strict.outcome}, ${nearest.outcome}`);
    expect(strict.error).toBe(
      `no recording matches POST /v2/models/digits/infer (rtol 0.00001, atol 0.000001); the closest is seq ${digitCalls[0]!.seq} ` +
        `(model digits, POST /v2/models/digits/infer): input 'image': 1 of 784 elements outside tolerance, ` +
        `max |Δ| 0.5 at element 0 [0, 0, 0, 0] (recorded 0, received 0.5)`,
    );

    const neverRecorded = matchRequest(cassette, { method: 'GET', path: '/v2/models/iris/ready' });
    expect(neverRecorded.outcome === 'unmatched' && neverRecorded.error).toBe(
      'no recording of GET /v2/models/iris/ready; the cassette has GET /v2/models/digits/ready ×1, GET /v2/models/digits ×1, ' +
        'POST /v2/models/digits/infer ×10, GET /v2/models/iris ×1, POST /v2/models/iris/infer ×3',
    );

    expect(results).toEqual({
      ready: { ready: true, headers: matched(ready) },
      metadata: { name: 'digits', inputs: recordedMetadata.inputs, outputs: recordedMetadata.outputs, headers: matched(metadata) },
      'digits (binary)': digitCalls.map((call, i) => ({
        labels: [String(inputs.digits[i]!.label)],
        shape: [1, 10],
        data: recordedOutput(call),
        headers: matched(call),
      })),
      'flowers (JSON)': flowerCalls.map((call, i) => ({
        labels: [inputs.flowers[i]!.species],
        data: recordedOutput(call),
        headers: matched(call),
      })),
      'digit perturbed by 1e-7': { data: recordedOutput(digitCalls[0]!), headers: matched(digitCalls[0]!) },
      // The SDK's message for an error answer is its status, then the body's error.
      'one pixel +0.5, strict': { name: 'NotFoundError', status: 404, message: `404 ${strict.error}`, modelportError: true },
      'a call never recorded': {
        name: 'NotFoundError',
        status: 404,
        message: `404 ${neverRecorded.outcome === 'unmatched' && neverRecorded.error}`,
        modelportError: true,
      },
      'one pixel +0.5, nearest': {
        data: recordedOutput(digitCalls[0]!),
        headers: { replay: 'nearest', seq: String(digitCalls[0]!.seq), nearest: asciiHeaderValue(nearest.description) },
      },
    });
    expect(nearest.description).toContain('max |Δ| 0.5');

    // No model server here: this process never loaded TensorFlow (its native library would be mapped).
    if (existsSync('/proc/self/maps')) expect(readFileSync('/proc/self/maps', 'utf8')).not.toMatch(/tensorflow/i);

    // The only console errors: Chromium's lines for the two 404s.
    expect(pageErrors).toEqual([]);
    expect(
      consoleErrors.filter(
        ({ text, url }) =>
          !(text.includes('status of 404') && [`${baseUrl}/v2/models/digits/infer`, `${baseUrl}/v2/models/iris/ready`].includes(url)),
      ),
    ).toEqual([]);
  });
});
