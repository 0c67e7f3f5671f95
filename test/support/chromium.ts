/**
 * What the browser tests share: Debian's headless Chromium driven by playwright-core (skipped loudly
 * when it is not installed), a page bundle built by esbuild for browsers, and a static file server
 * on 127.0.0.1 that serves the page from its own origin.
 */
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
// Flags for a closed network: no GPU, no QUIC, and none of the background calls home.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Whether /usr/bin/chromium is there; when it is not, a warning names the test file and what it
 * skips (`skipped`, e.g. "the web page tests are SKIPPED").
 */
export function chromiumInstalled(testFile: string, skipped: string): boolean {
  if (existsSync(CHROMIUM)) return true;
  console.warn(
    `\n!!! ${testFile}: ${CHROMIUM} (Debian package 'chromium') is missing: ${skipped}.\n` +
      `!!! Install it with: apt-get update && apt-get install -y --no-install-recommends chromium\n`,
  );
  return false;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, timeout: 30_000 });
}

/** `entry` bundled for browsers into one minified ESM file; only `external` is left as imports. */
export async function bundleForBrowser(entry: string, external: string[] = []): Promise<Uint8Array> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    logLevel: 'silent',
    external,
  });
  return result.outputFiles[0]!.contents;
}

export interface StaticServer {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  close(): Promise<void>;
}

/** Serves exactly these paths (body and content type, never cached); anything else is a 404. */
export async function serveStatic(files: Record<string, [body: Uint8Array | string, type: string]>): Promise<StaticServer> {
  const server = createServer((request, response) => {
    const served = files[new URL(request.url ?? '/', 'http://x').pathname];
    if (!served) return void response.writeHead(404).end();
    response.writeHead(200, { 'content-type': served[1], 'cache-control': 'no-store' }).end(served[0]);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
