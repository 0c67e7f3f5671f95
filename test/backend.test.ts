import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const CLI = new URL('../mock-server/bin/modelport.js', import.meta.url).pathname;

/** Starts `modelport serve` in a child process and resolves with its URL, or its exit and output. */
function serve(env: Record<string, string>): Promise<{ url?: string; code?: number | null; output: string; stop(): void }> {
  return new Promise((resolve) => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'modelport-backend-'));
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--no-auth', '--data-dir', dataDir], { env: { ...process.env, ...env } });
    child.on('exit', () => rmSync(dataDir, { recursive: true, force: true }));
    let output = '';
    const stop = () => child.kill('SIGTERM');
    const onData = (chunk: Buffer) => {
      output += chunk;
      const url = /listening on (http:\/\/\S+)/.exec(output)?.[1];
      if (url) resolve({ url, output, stop });
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => resolve({ code, output, stop }));
  });
}

describe('backend choice', () => {
  it('MODELPORT_BACKEND=wasm forces WebAssembly and /v2 says so', async () => {
    const server = await serve({ MODELPORT_BACKEND: 'wasm' });
    try {
      expect(server.url).toBeDefined();
      expect(server.output).toContain('(backend wasm, tfjs 4.22.0;');
      const metadata = await (await fetch(`${server.url}/v2`)).json();
      expect(metadata.runtime).toEqual({ backend: 'wasm', tfjs_version: '4.22.0' });
    } finally {
      server.stop();
    }
  });

  it('an unknown MODELPORT_BACKEND fails loudly at start-up', async () => {
    const result = await serve({ MODELPORT_BACKEND: 'gpu' });
    expect(result.url).toBeUndefined();
    expect(result.code).toBe(2);
    expect(result.output).toContain("'gpu' from env 'MODELPORT_BACKEND' is invalid. Allowed choices are tensorflow, wasm, cpu.");
  });

  it('a forced backend that cannot load fails loudly and names the fix', async () => {
    // tfjs-node resolves its binding from package.json's binary path; an unknown N-API build makes it unloadable.
    const result = await serve({ MODELPORT_BACKEND: 'tensorflow', NODE_OPTIONS: '--require=./test/helpers/break-tfjs-node.cjs' });
    expect(result.url).toBeUndefined();
    expect(result.code).toBe(1);
    expect(result.output).toContain("backend 'tensorflow' was forced but could not load");
    expect(result.output).toContain('npm rebuild modelport');
  });
});
