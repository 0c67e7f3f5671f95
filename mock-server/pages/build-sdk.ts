/**
 * Build step (tsup's onSuccess, so `npm run build` runs it): writes the browser SDK bundle the
 * playground serves to dist/browser/modelport.js.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BUILT_SDK_FILE, bundleSdk } from './sdk-bundle';

const code = await bundleSdk();
await mkdir(path.dirname(BUILT_SDK_FILE), { recursive: true });
await writeFile(BUILT_SDK_FILE, code);
console.log(`browser SDK: ${path.relative(process.cwd(), BUILT_SDK_FILE)} (${(code.byteLength / 1024).toFixed(1)} KB)`);
