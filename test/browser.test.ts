/**
 * The SDK bundle in a real browser: src/index.ts bundled with ky by esbuild into one minified
 * browser ESM file, loaded by a page (test/browser/page.html) served from another origin than
 * the mock server, in headless Debian Chromium driven by playwright-core. The page calls the
 * server across origins (CORS preflights included) and the test checks what it got back.
 *
 * Needs /usr/bin/chromium (Debian's `chromium` package; .ci/run installs it). Without it the
 * browser checks are skipped with a warning; the bundle size checks still run.
 */
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockServer, type RunningMockServer } from '../mock-server/index';
import { loadMnistSplit } from '../mock-server/datasets/mnist-split';
import { bundleForBrowser, chromiumInstalled, launchChromium, serveStatic, type StaticServer } from './support/chromium';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PAGE_DIR = path.join(ROOT, 'test/browser');
const SCREENSHOT = path.join(ROOT, 'test-artifacts/browser-sdk.png');
/** Budget for the SDK entry with ky, minified + gzipped: fail when it grows past this. */
const SIZE_BUDGET_BYTES = 20 * 1024;

const hasChromium = chromiumInstalled('test/browser.test.ts', 'the SDK-in-a-browser test is SKIPPED');

interface BrowserBundle {
  code: Uint8Array;
  minified: number;
  gzipped: number;
}

/** The SDK entry bundled for browsers, minified; with ky inside, or ky left as an import. */
async function bundleSdk({ withKy }: { withKy: boolean }): Promise<BrowserBundle> {
  // Nothing is external but ky (when measuring the SDK alone): any Node import reaching the
  // SDK entry breaks this browser build.
  const code = await bundleForBrowser(path.join(ROOT, 'src/index.ts'), withKy ? [] : ['ky']);
  return { code, minified: code.byteLength, gzipped: gzipSync(code, { level: 9 }).byteLength };
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB (${bytes} B)`;

describe('SDK entry size for browsers', () => {
  it('is small: minified + gzipped, with and without ky', async () => {
    const [withKy, sdkOnly] = await Promise.all([bundleSdk({ withKy: true }), bundleSdk({ withKy: false })]);
    console.log(
      [
        'SDK entry (src/index.ts) bundled for browsers by esbuild --minify, gzip -9 (node:zlib):',
        `  SDK + ky : ${kb(withKy.minified)} minified, ${kb(withKy.gzipped)} min+gzip`,
        `  SDK alone: ${kb(sdkOnly.minified)} minified, ${kb(sdkOnly.gzipped)} min+gzip`,
        `  ky       : ≈ ${kb(withKy.gzipped - sdkOnly.gzipped)} of the gzipped total`,
      ].join('\n'),
    );
    expect(sdkOnly.gzipped).toBeLessThan(withKy.gzipped);
    expect(withKy.gzipped).toBeLessThan(SIZE_BUDGET_BYTES);
  });
});

describe.skipIf(!hasChromium)('the SDK bundle in headless Chromium', () => {
  let pageServer: StaticServer;
  let pageOrigin: string;
  let mock: RunningMockServer;
  let browser: Browser;
  let page: Page;
  const pageProblems: string[] = [];
  const consoleErrors: { text: string; url: string }[] = [];

  beforeAll(async () => {
    const started = performance.now();
    const files: Record<string, [body: Uint8Array, type: string]> = {
      '/': [await readFile(path.join(PAGE_DIR, 'page.html')), 'text/html; charset=utf-8'],
      '/page.js': [await readFile(path.join(PAGE_DIR, 'page.js')), 'text/javascript; charset=utf-8'],
      '/sdk.js': [(await bundleSdk({ withKy: true })).code, 'text/javascript; charset=utf-8'],
    };
    pageServer = await serveStatic(files);
    pageOrigin = pageServer.origin;
    const bundled = performance.now();

    [mock, browser] = await Promise.all([startMockServer({ auth: true, cors: [pageOrigin] }), launchChromium()]);
    page = await browser.newPage({ viewport: { width: 1280, height: 480 } });
    page.on('pageerror', (error) => pageProblems.push(`page error: ${error.stack ?? error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') consoleErrors.push({ text: message.text(), url: message.location().url });
    });
    page.on('requestfailed', (request) =>
      pageProblems.push(`request failed: ${request.method()} ${request.url()}: ${request.failure()?.errorText}`),
    );
    console.log(
      `browser test setup: bundle + page server ${Math.round(bundled - started)} ms, ` +
        `mock server + ${browser.browserType().name()} ${browser.version()} ${Math.round(performance.now() - bundled)} ms; ` +
        `page ${pageOrigin}, server ${mock.url}`,
    );
  });

  /** The page server as `localhost`: another origin than the page's `127.0.0.1`, without CORS headers. */
  const noCorsUrl = () => pageOrigin.replace('127.0.0.1', 'localhost');

  afterAll(async () => {
    await browser?.close();
    await mock?.close();
    await pageServer?.close();
  });

  it('runs health, metadata, JSON and binary predictions, a typed error and an upload across origins', async () => {
    const started = performance.now();
    const mnist = loadMnistSplit().test;
    const digit = { pixels: Array.from(mnist.x.subarray(0, 784)), label: String(mnist.y[0]) };
    const irisDir = path.join(ROOT, 'mock-server/models/iris/1');
    const irisFiles = await Promise.all(
      [
        ['model.json', 'application/json'],
        ['weights.bin', 'application/octet-stream'],
      ].map(async ([name, type]) => ({
        name,
        type,
        bytes: Array.from(await readFile(path.join(irisDir, name!))),
      })),
    );
    const serverMetadata = (await (await fetch(`${mock.url}/v2`, { headers: { authorization: `Bearer ${mock.adminKey}` } })).json()) as {
      name: string;
      version: string;
      runtime: { backend: string };
    };

    await page.goto(`${pageOrigin}/`);
    await page.waitForFunction(() => document.body.dataset.ready === 'true', undefined, { timeout: 10_000 });
    const results = await page.evaluate(
      (args) => (window as unknown as { runSdkChecks(a: typeof args): Promise<Record<string, unknown>> }).runSdkChecks(args),
      // noCorsUrl: the page server under another name, another origin that sends no CORS headers.
      { baseUrl: mock.url, apiKey: mock.adminKey, digit: digit.pixels, irisFiles, noCorsUrl: noCorsUrl() },
    );
    await mkdir(path.dirname(SCREENSHOT), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    console.log(`browser checks ran in ${Math.round(performance.now() - started)} ms; screenshot: ${path.relative(ROOT, SCREENSHOT)}`);

    expect(results).toEqual({
      'health.ready': { ready: true },
      'server.metadata': { name: serverMetadata.name, version: serverMetadata.version, backend: serverMetadata.runtime.backend },
      'predict iris': {
        labels: ['setosa'],
        output: { name: 'probabilities', datatype: 'FP32', shape: [1, 3], typedArray: 'Float32Array' },
      },
      'predict digits': { labels: [digit.label], top3: expect.arrayContaining([digit.label]), shape: [1, 10] },
      'predict digits (binary)': { labels: [digit.label], shape: [1, 10], typedArray: 'Float32Array', sameAsJson: true },
      'unknown model': {
        notFoundError: true,
        apiError: true,
        modelportError: true,
        name: 'NotFoundError',
        status: 404,
        code: 'model_not_found',
        requestIdHeader: true,
      },
      'versions.upload from File objects': {
        model: 'iris',
        version: 2,
        state: 'READY',
        predictedWithIt: ['virginica'],
        servedVersion: '2',
        progress: [1],
      },
      'a server that does not allow this origin': { name: 'ConnectionError', modelportError: true, hintsCors: true },
    });
    expect((results['predict digits'] as { top3: string[] }).top3[0]).toBe(digit.label);

    // The server really saw cross-origin calls from the page, preflights included.
    expect(mock.controls.requests({ method: 'OPTIONS' }).length).toBeGreaterThan(0);

    // The console errors allowed: Chromium logs the 404 the unknown-model call gets, and the blocked cross-origin call.
    const blocked = `${noCorsUrl()}/v2/health/live`;
    const unexpected = consoleErrors.filter(
      ({ text, url }) =>
        !(text.includes('status of 404') && url === `${mock.url}/v2/models/no-such-model`) &&
        !(text.includes('blocked by CORS policy') && text.includes(blocked)) &&
        !(text.includes('net::ERR_FAILED') && url === blocked),
    );
    const problems = pageProblems.filter((problem) => problem !== `request failed: GET ${blocked}: net::ERR_FAILED`);
    console.log(
      `page console errors (${consoleErrors.length}, ${consoleErrors.length - unexpected.length} expected): ${JSON.stringify(consoleErrors)}`,
    );
    expect([...problems, ...unexpected.map(({ text, url }) => `console error: ${text} (${url})`)]).toEqual([]);
  });
});
