/**
 * Runs one upload inspection in a child process (inspection-child.ts) and supervises it: a
 * wall-clock timeout, a memory limit (V8's heap limit, and a watchdog that reads the child's
 * resident memory from /proc and kills it above the limit), and rlimits on CPU time, file size and
 * open files (child-limits.ts). Whatever the child does (refuses, crashes, is killed), the answer is
 * the upload's: an HttpError naming the limit, never a crash of the server.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { HttpError, badRequest } from '../http/errors';
import { count } from '../registry/expansion-budget';
import { INSPECTION_CHILD } from '../server/package-paths';
import { limitedCommand } from './child-limits';
import type { FromInspection, InspectionJob } from './inspection-protocol';

export interface SupervisionLimits {
  /** Wall-clock time for the whole inspection, TensorFlow's start included (--upload-inspection-timeout). */
  timeoutMs: number;
  /** Resident memory of the child (--upload-inspection-memory). */
  memoryMb: number;
}

export type Accepted = Extract<FromInspection, { type: 'accepted' }> & { peakRssMb: number };

const WATCH_EVERY_MS = 100;
const STDERR_KEPT = 8 * 1024;

export function runInspection(job: InspectionJob, limits: SupervisionLimits): Promise<Accepted> {
  const argv = [
    process.execPath,
    ...(INSPECTION_CHILD.endsWith('.ts') ? ['--import', 'tsx'] : []),
    `--max-old-space-size=${limits.memoryMb}`,
    INSPECTION_CHILD,
  ];
  const { command, args } = limitedCommand(argv, {
    // All threads' CPU time together: TensorFlow loads on every core, so the timeout times the cores.
    cpuSeconds: Math.ceil(limits.timeoutMs / 1000) * availableParallelism() + 5,
    fileBytes: job.limits.maxExpandedBytes,
    openFiles: 512,
  });
  const child = spawn(command, args, {
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: process.env.TF_CPP_MIN_LOG_LEVEL ?? '2' },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  return new Promise<Accepted>((resolve, reject) => {
    let outcome: FromInspection | undefined;
    let killedFor: 'timeout' | 'memory' | undefined;
    let peakRssMb = 0;
    let stderr = '';
    const kill = (reason: 'timeout' | 'memory') => {
      killedFor ??= reason;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => kill('timeout'), limits.timeoutMs);
    const watchdog = setInterval(async () => {
      const rss = await residentMb(child.pid);
      if (rss === undefined) return;
      peakRssMb = Math.max(peakRssMb, rss);
      if (rss > limits.memoryMb) kill('memory');
    }, WATCH_EVERY_MS);
    child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_KEPT)));
    child.on('message', (message: FromInspection) => (outcome = message));
    child.on('error', (error) => {
      // The process could not be started at all (spawn failed): the server's problem, not the upload's.
      clearTimeout(timer);
      clearInterval(watchdog);
      reject(new Error(`the upload inspection process could not start: ${error.message}`));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      clearInterval(watchdog);
      if (killedFor) return reject(killedError(killedFor, limits));
      if (outcome?.type === 'accepted') return resolve({ ...outcome, peakRssMb });
      if (outcome?.type === 'refused') return reject(new HttpError(outcome.status, outcome.code, outcome.message, outcome.details));
      if (outcome?.type === 'failed') return reject(new Error(`inspecting the upload failed: ${outcome.message}`));
      reject(crashedError(code, signal, stderr, limits));
    });
    child.send(job, (error) => {
      if (error) child.kill('SIGKILL'); // exited before reading its job: reported by 'exit'
    });
  });
}

function killedError(reason: 'timeout' | 'memory', limits: SupervisionLimits): HttpError {
  if (reason === 'timeout')
    return badRequest(
      `inspecting the upload took longer than ${seconds(limits.timeoutMs)} (--upload-inspection-timeout), so it was stopped: ` +
        'the archive, its protobuf or its model did not unpack, parse and load in time',
      undefined,
      'invalid_model',
    );
  return new HttpError(
    413,
    'payload_too_large',
    `inspecting the upload needed more than ${count(limits.memoryMb)} MB of memory (--upload-inspection-memory), so it was stopped`,
  );
}

/** A child that died on its own: out of V8 heap, over an rlimit, or crashed inside TensorFlow. */
function crashedError(code: number | null, signal: NodeJS.Signals | null, stderr: string, limits: SupervisionLimits): Error {
  if (/heap out of memory|Reached heap limit|Allocation failed/i.test(stderr)) return killedError('memory', limits);
  if (signal === 'SIGXCPU') return killedError('timeout', limits);
  if (signal === 'SIGXFSZ' || /EFBIG/.test(stderr))
    return new HttpError(413, 'payload_too_large', 'a file of the upload grew beyond the unpacked size limit while it was written');
  const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
  console.warn(`[modelport] the upload inspection process ${how}:\n${stderr.trim().split('\n').slice(-5).join('\n')}`);
  return badRequest(
    `the model could not be inspected: the inspection process ${how} while unpacking or loading it`,
    undefined,
    'invalid_model',
  );
}

/** The child's resident memory in MB, from /proc (Linux); undefined elsewhere or once it has gone. */
async function residentMb(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined || process.platform !== 'linux') return undefined;
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) / 1024;
  } catch {
    return undefined;
  }
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
