/**
 * The server's web pages in a real browser (headless Debian Chromium driven by playwright-core):
 * /docs/ (Swagger UI on the server's copy of openapi.yaml) and /playground/ (the SDK bundled for
 * browsers, against the same server). The playground test enters the API key once, draws digits
 * on the canvas with real mouse moves and checks the exact class the page predicts, then opens the
 * evaluation (confusion matrix) and training (curves from the job's event stream) views.
 * Screenshots of every view go to test-artifacts/pages-*.png. Any console error, page error or
 * failed request fails the test.
 *
 * Needs /usr/bin/chromium (Debian's `chromium` package; .ci/run installs it); without it the
 * browser tests are skipped with a warning, and the HTTP checks still run.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockServer, type RunningMockServer } from '../mock-server/index';
import { chromiumInstalled, launchChromium } from './support/chromium';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const VIEWPORT = { width: 1360, height: 760 };

const hasChromium = chromiumInstalled('test/pages.test.ts', 'the web page tests are SKIPPED');

// ---------------------------------------------------------------------------------------------
// Digits as strokes on the 280×280 pad (canvas pixels; each stroke is one mouse down … up).

type Point = [x: number, y: number];
const line = (a: Point, b: Point, steps = 12): Point[] =>
  Array.from({ length: steps + 1 }, (_, i) => [a[0] + ((b[0] - a[0]) * i) / steps, a[1] + ((b[1] - a[1]) * i) / steps]);
/** A polyline through the points. */
const poly = (...points: Point[]): Point[] => points.slice(1).flatMap((p, i) => line(points[i]!, p).slice(i ? 1 : 0));
/** An elliptic arc from `from`° to `to`° (0° = 3 o'clock, growing clockwise on screen). */
const arc = (cx: number, cy: number, rx: number, ry: number, from: number, to: number, steps = 32): Point[] =>
  Array.from({ length: steps + 1 }, (_, i) => {
    const t = ((from + ((to - from) * i) / steps) * Math.PI) / 180;
    return [cx + rx * Math.cos(t), cy + ry * Math.sin(t)];
  });

const DIGITS: { digit: string; strokes: Point[][] }[] = [
  { digit: '1', strokes: [poly([150, 40], [132, 240])] },
  { digit: '0', strokes: [arc(140, 140, 62, 95, -90, 270, 48)] },
  { digit: '7', strokes: [poly([70, 50], [210, 50], [120, 240])] },
  { digit: '4', strokes: [poly([165, 40], [75, 170], [215, 170]), poly([170, 95], [170, 245])] },
  { digit: '2', strokes: [[...arc(140, 95, 58, 52, 200, 390, 24), ...poly([192, 118], [85, 235], [215, 235])]] },
];

// ---------------------------------------------------------------------------------------------

let mock: RunningMockServer; // auth on
let open: RunningMockServer; // auth off

beforeAll(async () => {
  [mock, open] = await Promise.all([startMockServer({ auth: true }), startMockServer({ auth: false })]);
});

afterAll(async () => {
  await Promise.all([mock?.close(), open?.close()]);
});

describe('web pages over HTTP', () => {
  it('serves the pages and their assets without a key, with content types and x-request-id', async () => {
    const expected: [string, string][] = [
      ['/docs/', 'text/html'],
      ['/docs/swagger-ui-bundle.js', 'text/javascript'],
      ['/docs/swagger-ui.css', 'text/css'],
      ['/docs/openapi.json', 'application/json'],
      ['/openapi.yaml', 'application/yaml'],
      ['/playground/', 'text/html'],
      ['/playground/app.js', 'text/javascript'],
      ['/playground/style.css', 'text/css'],
      ['/playground/modelport.js', 'text/javascript'],
      ['/playground/config.json', 'application/json'],
    ];
    for (const [page, type] of expected) {
      const response = await fetch(`${mock.url}${page}`, { headers: { 'x-request-id': 'page-check' } });
      expect({ page, status: response.status, type: response.headers.get('content-type')?.split(';')[0] }).toEqual({
        page,
        status: 200,
        type,
      });
      expect(response.headers.get('x-request-id')).toBe('page-check');
      await response.arrayBuffer();
    }
    const redirect = await fetch(`${mock.url}/playground`, { redirect: 'manual' });
    expect([redirect.status, redirect.headers.get('location')]).toEqual([301, '/playground/']);
    // Only the listed files: anything else under the pages is the API's 404; other methods are not pages.
    for (const [method, page] of [
      ['GET', '/playground/../package.json'],
      ['GET', '/playground/nope.js'],
      ['POST', '/playground/'],
    ]) {
      const response = await fetch(`${mock.url}${page}`, { method });
      expect(response.status, `${method} ${page}`).toBe(404);
      expect(((await response.json()) as { code: string }).code).toBe('route_not_found');
    }
    // The reference names this server as `/` (never the Host a caller sends); the raw spec is the file as it is.
    const spec = (await (await fetch(`${mock.url}/docs/openapi.json`)).json()) as { servers: { url: string }[]; paths: object };
    expect(spec.servers).toEqual([{ url: '/', description: 'this server' }]);
    const forged = await fetch(`${mock.url}/docs/openapi.json`, { headers: { host: 'evil.example' } });
    expect(await forged.text()).not.toContain('evil.example');
    const raw = parse(await (await fetch(`${mock.url}/openapi.yaml`)).text()) as { servers: { url: string }[]; paths: object };
    expect(raw.servers[0]!.url).toBe('http://127.0.0.1:8700');
    expect(Object.keys(spec.paths)).toEqual(Object.keys(raw.paths));
    expect(await (await fetch(`${mock.url}/playground/config.json`)).json()).toMatchObject({ auth: true });
    expect(await (await fetch(`${open.url}/playground/config.json`)).json()).toMatchObject({ auth: false });
    // The SDK bundle is a browser module: no Node built-ins.
    const sdk = await (await fetch(`${mock.url}/playground/modelport.js`)).text();
    expect(sdk).toContain('Modelport');
    expect(sdk).not.toMatch(/from\s*["']node:/);
  });
});

describe.skipIf(!hasChromium)('web pages in headless Chromium', () => {
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchChromium();
    await mkdir(ARTIFACTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
  });

  /** A fresh page that records every console error, page error and failed request. */
  async function newPage(): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
    const problems: string[] = [];
    const context = await browser.newContext({ viewport: VIEWPORT });
    const page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()} (${message.location().url})`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.stack ?? error.message}`));
    page.on('requestfailed', (request) =>
      problems.push(`request failed: ${request.method()} ${request.url()}: ${request.failure()?.errorText}`),
    );
    return { context, page, problems };
  }

  const screenshot = (page: Page, name: string) => page.screenshot({ path: path.join(ARTIFACTS, `pages-${name}.png`) });

  async function draw(page: Page, strokes: Point[][]): Promise<void> {
    await page.click('#clear');
    const box = (await page.locator('#pad').boundingBox())!;
    for (const stroke of strokes) {
      await page.mouse.move(box.x + stroke[0]![0], box.y + stroke[0]![1]);
      await page.mouse.down();
      for (const [x, y] of stroke.slice(1)) await page.mouse.move(box.x + x, box.y + y);
      await page.mouse.up();
    }
    await page.waitForSelector('#draw-result[data-status="done"]', { timeout: 15_000 });
  }

  it('renders the API reference from openapi.yaml; "Try it out" calls this server with the tab\'s key', async () => {
    const { context, page, problems } = await newPage();
    // The key the playground would have stored in this tab: the reference authorises with it.
    await context.addInitScript((key) => sessionStorage.setItem('modelport.apiKey', key), mock.adminKey);
    await page.goto(`${mock.url}/docs/`);
    await page.waitForSelector('body[data-ready="true"] .opblock-summary', { timeout: 20_000 });
    const operations = await page.locator('.opblock').count();
    const text = await page.locator('#swagger-ui').innerText();
    expect(operations).toBeGreaterThan(40);
    for (const expected of [
      '/v2/models/{model_name}/infer',
      '/v1/models/{model_name}/explain',
      '/v1/training-jobs/{job_id}/events',
      '/v1/evaluations',
    ]) {
      expect(text).toContain(expected);
    }
    expect(await page.locator('.servers select').inputValue()).toBe('/');
    expect(await page.locator('.auth-wrapper .authorize').getAttribute('class')).toContain('locked');
    await screenshot(page, 'docs');

    await page
      .locator('.opblock-summary-path', { hasText: /^\/v1\/models$/ })
      .first()
      .click();
    await page.locator('.opblock.is-open button.try-out__btn').click();
    await page.locator('.opblock.is-open button.execute').click();
    const status = page.locator('.opblock.is-open .live-responses-table tbody .response-col_status').first();
    await status.waitFor({ timeout: 10_000 });
    expect((await status.innerText()).trim()).toBe('200');
    expect(await page.locator('.opblock.is-open .request-url').innerText()).toContain(`${mock.url}/v1/models`);
    await page.locator('.opblock.is-open .request-url').evaluate((element) => element.scrollIntoView({ block: 'start' }));
    await screenshot(page, 'docs-operation');
    await context.close();
    expect(problems).toEqual([]);
  });

  it('playground: key once, models, drawn digits classified and explained, evaluation, live training', async () => {
    const { context, page, problems } = await newPage();
    const timings: Record<string, number> = {};
    let started = performance.now();
    const lap = (name: string) => {
      timings[name] = Math.round(performance.now() - started);
      started = performance.now();
    };

    // The key, once: asked for on the first visit, then kept for the tab.
    await page.goto(`${mock.url}/playground/`);
    await page.waitForSelector('#key-dialog[open]');
    await page.fill('#api-key', mock.adminKey);
    await page.click('#key-submit');
    await page.waitForSelector('body[data-ready="true"]');
    expect(await page.evaluate(() => sessionStorage.getItem('modelport.apiKey'))).toBe(mock.adminKey);
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    expect(await page.locator('#key-dialog').evaluate((dialog: HTMLDialogElement) => dialog.open)).toBe(false);

    // Models: versions with their metrics, and aliases.
    await page.waitForSelector('#model-detail[data-model="digits"] #versions-table');
    expect(await page.locator('#model-list .name').allTextContents()).toEqual(['digits', 'digits-mlp', 'iris']);
    const versionRow = await page.locator('#versions-table tbody tr').first().innerText();
    expect(versionRow).toContain('98.10 %');
    expect(versionRow).toContain('production');
    expect(await page.locator('#aliases-table').innerText()).toContain('v1 · 100 %');
    await screenshot(page, 'models');
    await page.click('#model-list button[data-model="iris"]');
    await page.waitForSelector('#model-detail[data-model="iris"] #versions-table');
    expect(await page.locator('#versions-table tbody tr').first().innerText()).toContain('96.67 %');
    lap('key + models');

    // Draw: each digit by real mouse moves, classified by the chosen model, explained.
    await page.click('.tabs a[data-view="draw"]');
    expect(await page.locator('#draw-model').inputValue()).toBe('digits');
    for (const { digit, strokes } of DIGITS) {
      await draw(page, strokes);
      const label = await page.getAttribute('#draw-result', 'data-label');
      const top3 = await page.locator('#top3 .bar-row').evaluateAll((rows) => rows.map((row) => (row as HTMLElement).dataset.label));
      expect({ digit, label, top3: top3.length, best: top3[0] }).toEqual({ digit, label: digit, top3: 3, best: digit });
      expect(await page.locator('#prediction').innerText()).toBe(digit);
      // The heat map shows warm (for) attributions where the digit is.
      const warm = await page.locator('#heatmap').evaluate((canvas: HTMLCanvasElement) => {
        const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
        let count = 0;
        for (let i = 0; i < data.length; i += 4) if (data[i]! > 180 && data[i + 2]! < 120) count++;
        return count;
      });
      expect(warm, `warm heat-map pixels for ${digit}`).toBeGreaterThan(500);
      if (['1', '0', '7'].includes(digit)) await screenshot(page, `draw-${digit}`);
    }
    // Another model classifies the same way.
    await page.selectOption('#draw-model', 'digits-mlp');
    await draw(page, DIGITS[2]!.strokes);
    expect(await page.getAttribute('#draw-result', 'data-label')).toBe('7');
    expect(await page.locator('#prediction-detail').innerText()).toContain('digits-mlp v1');
    await page.selectOption('#draw-model', 'digits');
    lap('draw');

    // Evaluation on mnist-holdout: metrics and the confusion matrix as a heat map.
    await page.click('.tabs a[data-view="evaluation"]');
    await page.click('#run-evaluation');
    await page.waitForSelector('#eval-result[data-status="done"]', { timeout: 30_000 });
    expect(await page.getAttribute('#eval-result', 'data-accuracy')).toBe('0.981');
    const cells = await page
      .locator('#confusion g.cell')
      .evaluateAll((gs) =>
        gs.map((g) => ({ t: g.getAttribute('data-true'), p: g.getAttribute('data-predicted'), n: Number(g.getAttribute('data-count')) })),
      );
    expect(cells).toHaveLength(100);
    expect(cells.reduce((sum, c) => sum + c.n, 0)).toBe(2000);
    expect(cells.filter((c) => c.t === c.p).reduce((sum, c) => sum + c.n, 0)).toBe(1962);
    expect(await page.locator('#per-class tbody tr').count()).toBe(10);
    await screenshot(page, 'evaluation');
    lap('evaluation');

    // Training: curves drawn from the event stream, one point per epoch as it arrives.
    await page.click('.tabs a[data-view="training"]');
    await page.fill('#train-epochs', '6');
    await page.click('#start-training');
    const seen = new Set<number>();
    let liveShot = false;
    for (const deadline = Date.now() + 45_000; Date.now() < deadline; ) {
      const [status, epochs] = await page
        .locator('#train-status')
        .evaluate((el) => [el.dataset.status, Number(el.dataset.epochs)] as const);
      seen.add(epochs);
      if (!liveShot && epochs >= 2 && status === 'running') {
        await screenshot(page, 'training-live');
        liveShot = true;
      }
      if (status === 'succeeded' || status === 'failed' || status === 'cancelled') break;
      await page.waitForTimeout(50);
    }
    expect(await page.getAttribute('#train-status', 'data-status')).toBe('succeeded');
    // The curve grew while the job ran: the page showed intermediate epoch counts, not only the end.
    expect([...seen].filter((n) => n > 0 && n < 6).length).toBeGreaterThanOrEqual(2);
    expect(liveShot).toBe(true);
    for (const series of ['loss', 'val_loss', 'accuracy', 'val_accuracy']) {
      expect(await page.getAttribute(`polyline[data-series="${series}"]`, 'data-points')).toBe('6');
    }
    expect(await page.locator('#train-status').innerText()).toMatch(/registered playground-mlp v1/);
    await screenshot(page, 'training');
    lap('training');

    // The trained model is in the registry and draws too.
    await page.click('.tabs a[data-view="models"]');
    await page.click('#model-list button[data-model="playground-mlp"]');
    await page.waitForSelector('#model-detail[data-model="playground-mlp"] #versions-table');
    expect(await page.locator('#versions-table').innerText()).toContain('validation split');
    console.log(`playground timings (ms): ${JSON.stringify(timings)}`);
    await context.close();
    expect(problems).toEqual([]);
  });

  it('playground works when auth is off: no key asked for', async () => {
    const { context, page, problems } = await newPage();
    await page.goto(`${open.url}/playground/#draw`);
    await page.waitForSelector('body[data-ready="true"]');
    expect(await page.locator('#key-dialog').evaluate((dialog: HTMLDialogElement) => dialog.open)).toBe(false);
    expect(await page.locator('#change-key').isHidden()).toBe(true);
    await draw(page, DIGITS[0]!.strokes);
    expect(await page.getAttribute('#draw-result', 'data-label')).toBe('1');
    await screenshot(page, 'no-auth');
    await context.close();
    expect(problems).toEqual([]);
  });
});
