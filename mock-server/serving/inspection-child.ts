/**
 * The upload inspection process: unpacks one upload into its staging folder, checks it and loads
 * it with TensorFlow, and reports the version's info or why it was refused. A child process, so
 * the work a hostile upload can make unbounded (inflating, parsing a protobuf, loading a graph)
 * never runs on the server's event loop, and the server can kill it at its time and memory limits
 * (inspection-process.ts). One upload per process; it exits when done or when the server goes away.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { HttpError } from '../http/errors';
import { unpackUpload } from '../registry/archive';
import { loadRuntime } from '../runtime/backend';
import type { FromInspection, InspectionJob } from './inspection-protocol';
import { inspectUpload } from './upload-inspection';
import { checkMetadata } from './upload-metadata';

const send = (message: FromInspection) => new Promise<void>((resolve) => process.send!(message, undefined, {}, () => resolve()));

// TensorFlow starts while the process waits for its upload (the server keeps one started): on
// the server's backend, which MODELPORT_BACKEND names, so the model is test-loaded as it will be served.
const runtime = loadRuntime({ warn: () => undefined });
runtime.catch(() => undefined); // reported to the upload that needs it

process.on('disconnect', () => process.exit(1)); // the server died: nobody waits for the answer
process.once('message', (job: InspectionJob) => {
  inspect(job)
    .then(send, (error) => send(answerFor(error)))
    .finally(() => process.disconnect());
});

async function inspect(job: InspectionJob): Promise<FromInspection> {
  const started = performance.now();
  const { files, metadata } = job.source
    ? await unpackUpload(job.source, job.dir, job.limits)
    : { files: await filesIn(job.dir), metadata: undefined };
  const meta = checkMetadata(metadata);
  const unpacked = performance.now();
  const tf = await runtime;
  const ready = performance.now();
  const info = await inspectUpload(tf, job.dir, files, job.model, {
    ...(meta.signature !== undefined ? { signature: meta.signature } : {}),
    ...(meta.tags !== undefined ? { tags: meta.tags } : {}),
    trusted: job.trusted,
    maxLoadMs: job.maxLoadMs,
  });
  return {
    type: 'accepted',
    info,
    files,
    ...(meta.metrics ? { metrics: meta.metrics } : {}),
    timings: { unpackMs: ms(unpacked - started), runtimeMs: ms(ready - unpacked), inspectMs: ms(performance.now() - ready) },
  };
}

function answerFor(error: unknown): FromInspection {
  if (error instanceof HttpError)
    return {
      type: 'refused',
      status: error.status,
      code: error.code,
      message: error.message,
      ...(error.details ? { details: error.details } : {}),
    };
  return { type: 'failed', message: (error as Error)?.message ?? String(error) };
}

/** The files of a folder the server wrote itself, as relative paths. */
async function filesIn(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'));
}

const ms = (n: number) => Math.round(n);
