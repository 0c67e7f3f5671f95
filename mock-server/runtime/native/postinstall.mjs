#!/usr/bin/env node
// @modelport/server's postinstall: prepares native TensorFlow in modelport's cache (prepare.mjs),
// so the first server start does not have to. In a clone of modelport it first brings vendor/ up
// to date (the vendoring script is not shipped: an installed package has its vendor/). Never fails
// the install, and prints exactly one line: when this cannot build, the server says why once at
// its start and runs on wasm.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { TF_VERSION, prepareNative } from './prepare.mjs';

const TAG = '[modelport] native TensorFlow:';
const here = path.dirname(fileURLToPath(import.meta.url));
const packageRoot = path.resolve(here, '..', '..');
const vendorScript = path.join(here, 'vendor-tfjs-node.mjs');
const started = Date.now();
let vendored = '';

try {
  if (fs.existsSync(vendorScript)) {
    const { vendorTfjsNode } = await import(pathToFileURL(vendorScript).href);
    const result = await vendorTfjsNode({ onlyIfStale: true });
    if (result.vendored) vendored = `vendored tfjs-node ${result.tfjsNode} into ${result.vendor}; `;
  }
  const entry = await prepareNative({ packageRoot });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(
    entry.built
      ? `${TAG} ${vendored}built TensorFlow ${TF_VERSION} from the tensorflow-cpu wheel and tfjs-node's binding in ${seconds} s; cached in ${entry.dir}`
      : `${TAG} ${vendored}ready in ${entry.dir}`,
  );
} catch (error) {
  const fix = error.fix ? ` To get it: ${error.fix}` : '';
  console.log(
    `${TAG} ${vendored}not prepared (${String(error.message ?? error).split('\n')[0]}); the server tries again when it starts, and runs on wasm if that fails too.${fix}`,
  );
}
