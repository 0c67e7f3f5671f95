/** Runs `modelport record` as users run it (the real CLI, a child process) and waits for its proxy URL. */
import { spawn } from 'node:child_process';

export const CLI = new URL('../../mock-server/bin/modelport.js', import.meta.url).pathname;

/** The environment of a CLI child: no MODELPORT_* setting of the test run leaks in. */
export function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('MODELPORT_')));
}

export interface RecordingProxy {
  url: string;
  /** The child's process id (its /proc/<pid>/maps shows what it loaded). */
  pid: number;
  /** What it printed so far. */
  output(): { stdout: string; stderr: string };
  /** SIGTERM (exchanges under way are finished and written), then the exit code and what it printed. */
  stop(): Promise<{ code: number | null; stdout: string; stderr: string }>;
  /** SIGKILL unless it has exited: the clean-up after a test that failed before stop(). */
  kill(): void;
}

export async function startRecordingProxy(upstream: string, cassette: string, ...args: string[]): Promise<RecordingProxy> {
  const child = spawn(process.execPath, [CLI, 'record', '--upstream', upstream, '--cassette', cassette, ...args], { env: cleanEnv() });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const kill = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  let timer: NodeJS.Timeout | undefined;
  const url = await new Promise<string>((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no proxy URL within 30 s: ${stdout} ${stderr}`)), 30_000);
    child.stdout.on('data', () => {
      const found = /proxy listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(stdout);
      if (found) resolve(found[1]!);
    });
    void exited.then((code) => reject(new Error(`modelport record exited with ${code}: ${stdout} ${stderr}`)));
  }).then(
    (found) => (clearTimeout(timer), found),
    (error: unknown) => {
      clearTimeout(timer);
      kill();
      throw error;
    },
  );
  return {
    url,
    pid: child.pid!,
    output: () => ({ stdout, stderr }),
    async stop() {
      child.kill('SIGTERM');
      const code = await exited;
      return { code, stdout, stderr };
    },
    kill,
  };
}
