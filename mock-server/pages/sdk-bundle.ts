/**
 * The SDK for browsers, as the playground loads it: src/index.ts with ky bundled in by esbuild,
 * one minified ES module. Two ways to get it:
 *
 * - the built package: `npm run build` (tsup's onSuccess runs build-sdk.ts) writes
 *   dist/browser/modelport.js, and the server reads that file;
 * - a source checkout (no dist, or running the .ts sources): esbuild bundles src/index.ts on
 *   the first request for it, and the result is kept in memory for the life of the process.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { PACKAGE_ROOT, RUNNING_BUILT } from '../server/package-paths';

/** The SDK's sources, in a checkout of the repository (the server package sits beside them). */
export const SDK_ENTRY = path.join(PACKAGE_ROOT, '..', 'src', 'index.ts');
export const BUILT_SDK_FILE = path.join(PACKAGE_ROOT, 'dist', 'browser', 'modelport.js');

export interface BrowserSdk {
  code: Uint8Array;
  /** `dist` (read from dist/browser/modelport.js) or `esbuild` (bundled in this process). */
  source: 'dist' | 'esbuild';
}

/** The esbuild options for the browser bundle; build-sdk.ts writes with the same ones. */
export function browserBuildOptions() {
  return {
    entryPoints: [SDK_ENTRY],
    bundle: true,
    format: 'esm' as const,
    platform: 'browser' as const,
    target: 'es2022',
    minify: true,
    legalComments: 'none' as const,
    logLevel: 'silent' as const,
    banner: { js: '/* modelport SDK for browsers (src/index.ts + ky), bundled by esbuild */' },
  };
}

/** Bundles src/index.ts with esbuild (a dev dependency: present in a source checkout). */
export async function bundleSdk(): Promise<Uint8Array> {
  // Imported by a name bundlers do not follow: tsup must not inline esbuild into dist.
  const esbuildModule = 'esbuild';
  const { build } = (await import(/* @vite-ignore */ esbuildModule)) as typeof import('esbuild');
  const result = await build({ ...browserBuildOptions(), write: false });
  return result.outputFiles[0]!.contents;
}

let cached: Promise<BrowserSdk> | undefined;

/** The browser SDK, loaded or bundled once per process. */
export function browserSdk(): Promise<BrowserSdk> {
  cached ??= loadSdk().catch((error) => {
    cached = undefined; // let the next request try again
    throw error;
  });
  return cached;
}

async function loadSdk(): Promise<BrowserSdk> {
  if (RUNNING_BUILT && existsSync(BUILT_SDK_FILE)) return { code: new Uint8Array(await readFile(BUILT_SDK_FILE)), source: 'dist' };
  if (!existsSync(SDK_ENTRY)) {
    throw new Error(`the browser SDK is missing: neither ${BUILT_SDK_FILE} (npm run build) nor ${SDK_ENTRY} to bundle exists`);
  }
  return { code: await bundleSdk(), source: 'esbuild' };
}
