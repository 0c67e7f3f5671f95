import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const CLI = new URL('../mock-server/bin/modelport.js', import.meta.url).pathname;

/** Starts `modelport serve` in a child process and resolves with its URL, or its exit and output. */
function serve(env: Record<string, string | undefined>): Promise<{ url?: string; code?: number | null; output: string; stop(): void }> {
  return new Promise((resolve) => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'modelport-backend-'));
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--no-auth', '--data-dir', dataDir], {
      env: { ...process.env, ...env },
    });
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

  // A native cache that cannot be prepared: empty, and no python to download the wheel with.
  const unpreparable = () => ({
    MODELPORT_NATIVE_CACHE: mkdtempSync(path.join(os.tmpdir(), 'modelport-no-native-')),
    MODELPORT_PYTHON: '/nonexistent/python3',
    MODELPORT_TF_WHEEL: '',
    MODELPORT_SKIP_NATIVE: '',
  });

  it('a forced backend that cannot load fails loudly and names the fix', async () => {
    const env = unpreparable();
    try {
      const result = await serve({ ...env, MODELPORT_BACKEND: 'tensorflow' });
      expect(result.url).toBeUndefined();
      expect(result.code).toBe(1);
      expect(result.output).toContain(
        "backend 'tensorflow' was forced but could not load: /nonexistent/python3 with pip is not available (MODELPORT_PYTHON).",
      );
      expect(result.output).toContain('then run: npx modelport doctor --no-server');
    } finally {
      rmSync(env.MODELPORT_NATIVE_CACHE, { recursive: true, force: true });
    }
  });

  it('falls back to wasm with one warning that says what to run when native cannot be prepared', async () => {
    const env = unpreparable();
    const server = await serve({ ...env, MODELPORT_BACKEND: undefined });
    try {
      expect(server.url).toBeDefined();
      const warnings = server.output.split('\n').filter((line) => line.includes('[modelport]') && /native|wasm/.test(line));
      expect(warnings).toEqual([
        expect.stringContaining(
          '[modelport] native TensorFlow is not available (/nonexistent/python3 with pip is not available (MODELPORT_PYTHON)); running on wasm',
        ),
      ]);
      expect(warnings[0]).toContain(
        'To get native: install python3 and pip (Debian/Ubuntu: apt-get install python3-pip) or set MODELPORT_PYTHON, then run: npx modelport doctor --no-server',
      );
      expect((await (await fetch(`${server.url}/v2`)).json()).runtime.backend).toBe('wasm');
    } finally {
      server.stop();
      rmSync(env.MODELPORT_NATIVE_CACHE, { recursive: true, force: true });
    }
  });
});
