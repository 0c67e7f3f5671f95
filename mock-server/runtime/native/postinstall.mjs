#!/usr/bin/env node
// @modelport/server's postinstall (and, in a clone of modelport, the second half of the root
// `prepare` script): prepares native TensorFlow in modelport's cache (prepare.mjs), so the first
// server start does not have to. Never fails the install, and prints exactly one line: when this
// cannot build, the server says why once at its start and runs on wasm.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TF_VERSION, prepareNative } from './prepare.mjs';

const TAG = '[modelport] native TensorFlow:';
const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const started = Date.now();

try {
  const entry = await prepareNative({ packageRoot });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(entry.built
    ? `${TAG} built TensorFlow ${TF_VERSION} from the tensorflow-cpu wheel and tfjs-node's binding in ${seconds} s; cached in ${entry.dir}`
    : `${TAG} ready in ${entry.dir}`);
} catch (error) {
  const fix = error.fix ? ` To get it: ${error.fix}` : '';
  console.log(`${TAG} not prepared (${String(error.message ?? error).split('\n')[0]}); the server tries again when it starts, and runs on wasm if that fails too.${fix}`);
}
