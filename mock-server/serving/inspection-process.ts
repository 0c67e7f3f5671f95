/**
 * Runs each upload inspection in its own child process (inspection-child.ts) and supervises it: a
 * wall-clock timeout, a memory limit (V8's heap limit, and a watchdog that reads the child's
 * resident memory from /proc and kills it above the limit), and rlimits on CPU time, file size and
 * open files (child-limits.ts). Whatever the child does (refuses, crashes, is killed), the answer is
 * the upload's: an HttpError naming the limit, never a crash of the server.
 *
 * A process serves one upload and exits, so nothing a hostile upload did survives it. Starting
 * one costs ~2 s (Node, then TensorFlow), so once uploads arrive a spare is kept started and
 * waiting for the next, for SPARE_IDLE_MS; a server that receives none starts none.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { HttpError, badRequest } from '../http/errors';
import { count } from '../registry/expansion-budget';
import type { BackendName } from '../runtime/backend';
import { tensorflowLogLevel } from '../runtime/log-level';
import { INSPECTION_CHILD } from '../server/package-paths';
import { limitedCommand } from './child-limits';
import type { FromInspection, InspectionJob } from './inspection-protocol';

export interface SupervisionLimits {
  /** Wall-clock time for the whole inspection, from when the process is given the upload (--upload-inspection-timeout). */
  timeoutMs: number;
  /** Resident memory of the child (--upload-inspection-memory). */
  memoryMb: number;
  /** Bytes one file the child writes may reach (RLIMIT_FSIZE): the unpacked limit. */
  maxExpandedBytes: number;
}

export type Accepted = Extract<FromInspection, { type: 'accepted' }> & { peakRssMb: number };

const WATCH_EVERY_MS = 100;
const STDERR_KEPT = 8 * 1024;
/** How long a started spare waits for an upload before it is stopped. */
const SPARE_IDLE_MS = 30_000;

interface Started {
  child: ChildProcess;
  /** The last STDERR_KEPT characters the child wrote. */
  stderr: () => string;
}

export class InspectionProcesses {
  private spare: Started | undefined;
  private spareTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly limits: SupervisionLimits,
    private readonly backend: BackendName,
    private readonly keepSpare: boolean,
  ) {}

  async run(job: InspectionJob): Promise<Accepted> {
    const started = this.takeSpare() ?? this.start();
    try {
      return await supervise(started, job, this.limits);
    } finally {
      // The next one starts once this one is done, not beside it: two TensorFlow starts at once
      // would slow this inspection down on a small machine.
      if (this.keepSpare && !this.closed && !this.spare) this.startSpare();
    }
  }

  /** Stops the spare; later inspections start their own process. */
  close(): void {
    this.closed = true;
    clearTimeout(this.spareTimer);
    this.spare?.child.kill('SIGKILL');
    this.spare = undefined;
  }

  private takeSpare(): Started | undefined {
    const spare = this.spare;
    this.spare = undefined;
    clearTimeout(this.spareTimer);
    if (!spare || spare.child.pid === undefined || spare.child.exitCode !== null || spare.child.signalCode !== null) return undefined;
    holdsServer(spare.child, true);
    return spare;
  }

  private startSpare(): void {
    const spare = this.start();
    holdsServer(spare.child, false); // an idle spare does not keep the server's process alive
    this.spare = spare;
    this.spareTimer = setTimeout(() => {
      if (this.spare === spare) this.spare = undefined;
      spare.child.kill('SIGKILL');
    }, SPARE_IDLE_MS).unref();
  }

  private start(): Started {
    const argv = [
      process.execPath,
      ...(INSPECTION_CHILD.endsWith('.ts') ? ['--import', 'tsx'] : []),
      `--max-old-space-size=${this.limits.memoryMb}`,
      INSPECTION_CHILD,
    ];
    const { command, args } = limitedCommand(argv, {
      // All threads' CPU time together: TensorFlow loads on every core, so the timeout times the
      // cores, and the start of Node and TensorFlow on top.
      cpuSeconds: Math.ceil(this.limits.timeoutMs / 1000) * availableParallelism() + 10,
      fileBytes: this.limits.maxExpandedBytes,
      openFiles: 512,
    });
    const child = spawn(command, args, {
      env: { ...process.env, MODELPORT_BACKEND: this.backend, TF_CPP_MIN_LOG_LEVEL: tensorflowLogLevel() },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_KEPT)));
    child.on('error', () => undefined); // a process that cannot start is reported by supervise()
    return { child, stderr: () => stderr };
  }
}

/** Whether the child's handles keep the server's event loop alive. */
function holdsServer(child: ChildProcess, hold: boolean): void {
  const handles = [child, child.channel, child.stderr] as ({ ref?(): void; unref?(): void } | null | undefined)[];
  for (const handle of handles) hold ? handle?.ref?.() : handle?.unref?.();
}

function supervise({ child, stderr }: Started, job: InspectionJob, limits: SupervisionLimits): Promise<Accepted> {
  return new Promise<Accepted>((resolve, reject) => {
    let outcome: FromInspection | undefined;
    let killedFor: 'timeout' | 'memory' | undefined;
    let peakRssMb = 0;
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
    const settle = (code: number | null, signal: NodeJS.Signals | null, spawnError?: Error) => {
      clearTimeout(timer);
      clearInterval(watchdog);
      if (spawnError) return reject(new Error(`the upload inspection process could not start: ${spawnError.message}`));
      if (killedFor) return reject(killedError(killedFor, limits));
      if (outcome?.type === 'accepted') return resolve({ ...outcome, peakRssMb });
      if (outcome?.type === 'refused') return reject(new HttpError(outcome.status, outcome.code, outcome.message, outcome.details));
      if (outcome?.type === 'failed') return reject(new Error(`inspecting the upload failed: ${outcome.message}`));
      reject(crashedError(code, signal, stderr(), limits));
    };
    if (child.exitCode !== null || child.signalCode !== null) return settle(child.exitCode, child.signalCode);
    child.on('message', (message: FromInspection) => (outcome = message));
    child.once('error', (error) => settle(null, null, error));
    child.once('exit', (code, signal) => settle(code, signal));
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

let watchdogWarned = false;

/** The child's resident memory in MB, from /proc (Linux); undefined elsewhere or once it has gone. */
async function residentMb(pid: number | undefined): Promise<number | undefined> {
  if (process.platform !== 'linux') {
    if (!watchdogWarned) {
      watchdogWarned = true;
      console.warn("[modelport] no /proc here: an upload inspection's memory is bounded by V8's heap limit only, not by a watchdog");
    }
    return undefined;
  }
  if (pid === undefined) return undefined;
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
