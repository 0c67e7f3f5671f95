/**
 * A quiet `modelport serve` at a terminal. TensorFlow 2.21 writes two lines to stderr while its
 * library loads, before it applies TF_CPP_MIN_LOG_LEVEL, so no level hides them (measured; Python
 * TensorFlow prints them too): absl's "WARNING: All log messages before absl::InitializeLog() is
 * called are written to STDERR" (not a warning about anything) and "oneDNN custom operations are
 * on" (INFO). They come again from every upload inspection and training process. Node cannot point
 * its own stderr elsewhere, so when stderr is a terminal `serve` runs the server in a child whose
 * stderr passes through here, line by line, dropping exactly those lines and nothing else.
 *
 * Only at a terminal: logs collected from a pipe or a file (systemd, Docker, tests) keep the
 * server's process the one that was started, so a signal or a kill reaches it directly.
 * `--verbose` (MODELPORT_VERBOSE=1) keeps every line and TensorFlow's INFO logs too.
 */
import { spawn } from 'node:child_process';
import { Socket } from 'node:net';
import { constants } from 'node:os';

/** Set in the child, so it serves instead of starting another child. */
const FILTERED = 'MODELPORT_STDERR_FILTERED';

/** The lines TensorFlow writes before its log level applies (absl's prefix: I, date, time, thread, file:line). */
const LOADING_NOISE = [
  /^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$/,
  /^I\d{4} [\d:.]+\s+\d+ port\.cc:\d+\] oneDNN custom operations are on\. /,
];

export function isLoadingNoise(line: string): boolean {
  return LOADING_NOISE.some((pattern) => pattern.test(line));
}

/** Whether this `serve` should run the server in a filtered child (and not serve itself). */
export function wantsFilteredChild(verbose: boolean, env: NodeJS.ProcessEnv = process.env): boolean {
  return !verbose && env[FILTERED] !== '1' && process.stderr.isTTY === true && process.platform !== 'win32';
}

/**
 * Runs this same command line in a child whose stderr is filtered, forwards INT, TERM and HUP to it
 * once each (it has its own process group, so a Ctrl-C reaches it only through here), and exits as
 * it exits. If this process dies first, the child reads the end of its fd 3 and stops. (Not an IPC
 * channel: tsx takes a process with one for a child of its own CLI and handles its signals.)
 */
export function serveInFilteredChild(): Promise<never> {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'pipe', 'pipe'],
    env: { ...process.env, [FILTERED]: '1' },
    detached: true,
  });
  const filter = new LineFilter((text) => process.stderr.write(text));
  child.stderr!.on('data', (chunk: Buffer) => filter.write(chunk.toString('utf8')));
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => child.kill(signal === 'SIGHUP' ? 'SIGTERM' : signal));
  }
  return new Promise<never>(() => {
    child.once('error', (error) => {
      console.error(`modelport serve: could not start the server process: ${error.message}`);
      process.exit(1);
    });
    child.once('exit', (code, signal) => {
      filter.end();
      process.exit(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0));
    });
  });
}

/** In the filtered child: stop the server when the parent that filters its stderr has gone. */
export function onFilteringParentGone(stop: () => void): void {
  if (process.env[FILTERED] !== '1') return;
  // A socket, not fs.createReadStream: a file stream reads the pipe in a blocking thread, and an exit waits for it.
  const parent = new Socket({ fd: 3, readable: true, writable: false });
  parent.unref();
  parent.on('data', () => undefined);
  parent.once('close', stop);
  parent.once('error', stop);
}

/** Passes text on a line at a time, without the loading noise; a partial line waits for its end (at most 100 ms). */
class LineFilter {
  private pending = '';
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly out: (text: string) => void) {}

  write(text: string): void {
    const lines = (this.pending + text).split('\n');
    this.pending = lines.pop()!;
    const kept = lines.filter((line) => !isLoadingNoise(line));
    if (kept.length) this.out(`${kept.join('\n')}\n`);
    clearTimeout(this.timer);
    if (this.pending) this.timer = setTimeout(() => this.end(), 100);
  }

  end(): void {
    clearTimeout(this.timer);
    if (this.pending && !isLoadingNoise(this.pending)) this.out(this.pending);
    this.pending = '';
  }
}
