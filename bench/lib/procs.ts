/** Child processes for the systems under test: start, wait until they say they listen, stop. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export interface Child {
  name: string;
  proc: ChildProcess;
  /** The first capture group of the ready pattern (a URL for servers). */
  ready: string;
  /** Everything the child wrote so far (stdout and stderr), for error messages. */
  output(): string;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();

/** Kills every child still running (on exit or Ctrl-C of the bench). */
export function killAll(): void {
  for (const proc of running) {
    try {
      proc.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  running.clear();
}
process.once('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Matched against stdout; group 1 becomes `ready`. */
  readyPattern?: RegExp;
  timeoutMs?: number;
  /** Resolve as soon as the process is spawned (the caller polls it itself). */
  immediate?: boolean;
}

export function startChild(name: string, command: string, args: string[], options: StartOptions = {}): Promise<Child> {
  const pattern = options.readyPattern ?? /READY (\S+)/;
  const proc = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(proc);
  let output = '';
  let stdout = '';
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.once('exit', () => running.delete(proc));
  const stop = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  return new Promise<Child>((resolve, reject) => {
    if (options.immediate) {
      proc.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      proc.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
      proc.once('spawn', () => resolve({ name, proc, ready: '', output: () => output, stop }));
      proc.once('error', reject);
      return;
    }
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`${name} did not become ready within ${options.timeoutMs ?? 120_000} ms; output:\n${tail(output)}`));
    }, options.timeoutMs ?? 120_000);
    proc.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    proc.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (stdout === undefined) return;
      stdout += chunk.toString();
      const match = pattern.exec(stdout);
      if (match) {
        clearTimeout(timer);
        stdout = undefined as unknown as string;
        resolve({ name, proc, ready: match[1] ?? match[0], output: () => output, stop });
      }
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${signal ?? code}) before it was ready; output:\n${tail(output)}`));
    });
    proc.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/** Runs a child to completion; resolves with its stdout, rejects with its output when it fails. */
export function runChild(
  name: string,
  command: string,
  args: string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const proc = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(proc);
    let stdout = '';
    let output = '';
    proc.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      output += chunk.toString();
    });
    proc.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => proc.kill('SIGKILL'), options.timeoutMs ?? 300_000);
    proc.once('error', reject);
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      running.delete(proc);
      if (code === 0) resolve(stdout);
      else reject(new Error(`${name} failed (${signal ?? `exit ${code}`}); output:\n${tail(output)}`));
    });
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function tail(text: string, lines = 30): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}
