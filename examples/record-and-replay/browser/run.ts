/**
 * The browser example, end to end: bundles page.ts with esbuild, serves it on 127.0.0.1 with msw's
 * mockServiceWorker.js (at the origin's root, the worker's scope), the cassette and the inputs, then
 * opens it in headless Chromium (playwright-core) and prints what the page shows. No model server.
 *
 *   npx tsx examples/record-and-replay/browser/run.ts           # needs Chromium (CHROMIUM=<path>, default /usr/bin/chromium)
 *   npx tsx examples/record-and-replay/browser/run.ts --serve   # serve only: open the printed URL in any browser
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import type { Row } from './page';

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const bundle = await build({
  entryPoints: [here('./page.ts')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  write: false,
  logLevel: 'warning',
});
const files: Record<string, [body: Uint8Array, type: string]> = {
  '/': [readFileSync(here('./index.html')), 'text/html; charset=utf-8'],
  '/page.js': [bundle.outputFiles[0]!.contents, 'text/javascript; charset=utf-8'],
  '/mockServiceWorker.js': [
    readFileSync(createRequire(import.meta.url).resolve('msw/mockServiceWorker.js')),
    'text/javascript; charset=utf-8',
  ],
  '/app.cassette.jsonl': [readFileSync(here('../app.cassette.jsonl')), 'application/jsonl; charset=utf-8'],
  '/inputs.json': [readFileSync(here('../inputs.json')), 'application/json'],
};
const server = createServer((request, response) => {
  const file = files[new URL(request.url ?? '/', 'http://x').pathname];
  if (!file) return void response.writeHead(404).end();
  response.writeHead(200, { 'content-type': file[1], 'cache-control': 'no-store' }).end(file[0]);
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

if (process.argv.includes('--serve')) {
  console.log(`serving the replay page on ${url} (Ctrl-C stops)`);
} else {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const problems: string[] = [];
  try {
    const page = await browser.newPage();
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => void (message.type() === 'error' && problems.push(`console error: ${message.text()}`)));
    await page.goto(url);
    // A page error (say, a call no recording answers) stops the page before it has rows: say which.
    await page
      .waitForFunction(() => document.body.dataset.rows !== undefined, undefined, { timeout: 20_000 })
      .catch((error: Error) => {
        throw new Error(`the page did not finish: ${error.message}\n${problems.join('\n')}`);
      });
    const rows = JSON.parse((await page.evaluate(() => document.body.dataset.rows))!) as Row[];
    console.log(`${url} in Chromium ${browser.version()}, the app calling http://models.invalid through msw's service worker:`);
    for (const row of rows) console.log(`  ${row.input.padEnd(18)} → ${row.answer.padEnd(26)} ${row.replay}`);
  } finally {
    await browser.close();
    server.close();
  }
  if (problems.length > 0) {
    console.error(problems.join('\n'));
    process.exit(1);
  }
}
