/** Runs `modelport record` as users run it (the real CLI, a child process) and waits for its proxy URL. */
import { spawn } from 'node:child_process';

const CLI = new URL('../../mock-server/bin/modelport.js', import.meta.url).pathname;

export interface RecordingProxy {
  url: string;
  /** SIGTERM (exchanges under way are finished and written), then the exit code and what it printed. */
  stop(): Promise<{ code: number | null; stdout: string; stderr: string }>;
}

export async function startRecordingProxy(upstream: string, cassette: string, ...args: string[]): Promise<RecordingProxy> {
  // No MODELPORT_* setting of the test run leaks in.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('MODELPORT_')));
  const child = spawn(process.execPath, [CLI, 'record', '--upstream', upstream, '--cassette', cassette, ...args], { env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no proxy URL within 20 s: ${stdout} ${stderr}`)), 20_000);
    child.stdout.on('data', () => {
      const found = /proxy listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(stdout);
      if (found) resolve(found[1]!), clearTimeout(timer);
    });
    void exited.then((code) => reject(new Error(`modelport record exited with ${code}: ${stderr}`)));
  });
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      const code = await exited;
      return { code, stdout, stderr };
    },
  };
}
