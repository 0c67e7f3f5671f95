/** `modelport serve` in a child process, for tests that kill it. */
import { spawn, type ChildProcess } from 'node:child_process';

const CLI = new URL('../../mock-server/bin/modelport.js', import.meta.url).pathname;

export interface ChildServer {
  url: string;
  child: ChildProcess;
  output: () => string;
}

/** Serves `dataDir` without auth, or with auth and this admin key when `adminKey` is given. */
export function startChildServer(
  dataDir: string,
  extraArgs: string[] = [],
  options: { adminKey?: string; env?: Record<string, string> } = {},
): Promise<ChildServer> {
  return new Promise((resolve, reject) => {
    const auth = options.adminKey ? [] : ['--no-auth'];
    const env = { ...process.env, ...(options.adminKey ? { MODELPORT_API_KEY: options.adminKey } : {}), ...options.env };
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...auth, '--data-dir', dataDir, ...extraArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk;
      const url = /listening on (http:\/\/\S+)/.exec(output)?.[1];
      if (url) resolve({ url, child, output: () => output });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`server exited with ${code} before listening:\n${output}`)));
  });
}

export function kill(server: ChildServer, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  return new Promise((resolve) => {
    if (server.child.exitCode !== null || server.child.signalCode !== null) return resolve();
    server.child.once('exit', () => resolve());
    server.child.kill(signal);
  });
}
