/**
 * A quiet `modelport serve` (issue #19 item 8). TensorFlow's absl and oneDNN lines show only with
 * --verbose. Two of them ignore TF_CPP_MIN_LOG_LEVEL (TensorFlow writes them while loading), so at
 * a terminal serve filters its server process's stderr; the test runs serve in a terminal made by
 * util-linux `script`, as a user would.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isLoadingNoise } from '../mock-server/cli/quiet-start';
import { tensorflowLogLevel } from '../mock-server/runtime/log-level';

const CLI = new URL('../mock-server/bin/modelport.js', import.meta.url).pathname;
const SCRIPT = ['/usr/bin/script', '/bin/script'].find((file) => existsSync(file));
const work = mkdtempSync(path.join(os.tmpdir(), 'modelport-quiet-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const ABSL = 'WARNING: All log messages before absl::InitializeLog() is called are written to STDERR';
const ONEDNN = /port\.cc:\d+\] oneDNN custom operations are on\./;
const CPU_FEATURES = /cpu_feature_guard\.cc:\d+\] This TensorFlow binary is optimized/;

/** `modelport serve` in a terminal until it listens, then SIGTERM; everything the terminal showed, and the exit code. */
function serveAtTerminal(args: string[]): Promise<{ output: string; code: number | null }> {
  const serve = [process.execPath, CLI, 'serve', '--port', '0', '--no-auth', '--data-dir', path.join(work, 'data'), ...args];
  const command = `exec ${serve.join(' ')}`;
  const env = { ...process.env };
  delete env.TF_CPP_MIN_LOG_LEVEL;
  delete env.MODELPORT_VERBOSE;
  const terminal = spawn(SCRIPT!, ['-qfec', command, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'], env });
  return new Promise((resolve, reject) => {
    let output = '';
    let stopped = false;
    terminal.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (stopped || !/listening on http/.test(output)) return;
      stopped = true;
      // `script` runs the command through $SHELL -c (dash when SHELL is unset, as in CI), so the command
      // execs serve to make it the only child, whichever shell.
      const serveProcess = execFileSync('pgrep', ['-P', String(terminal.pid)], { encoding: 'utf8' }).trim();
      process.kill(Number(serveProcess), 'SIGTERM');
    });
    terminal.once('error', reject);
    terminal.once('exit', (code) => resolve({ output: output.replaceAll('\r', ''), code }));
  });
}

describe('TensorFlow log level', () => {
  it("is 1 (warnings and errors) by default, 0 with MODELPORT_VERBOSE, and the user's own TF_CPP_MIN_LOG_LEVEL wins", () => {
    expect(tensorflowLogLevel({})).toBe('1');
    expect(tensorflowLogLevel({ MODELPORT_VERBOSE: '1' })).toBe('0');
    expect(tensorflowLogLevel({ MODELPORT_VERBOSE: 'no' })).toBe('1');
    expect(tensorflowLogLevel({ MODELPORT_VERBOSE: '1', TF_CPP_MIN_LOG_LEVEL: '3' })).toBe('3');
    expect(tensorflowLogLevel({ TF_CPP_MIN_LOG_LEVEL: '0' })).toBe('0');
  });

  it('the filter drops exactly the two lines TensorFlow writes before its level applies, never a warning', () => {
    expect(isLoadingNoise(ABSL)).toBe(true);
    expect(
      isLoadingNoise(
        'I0000 00:00:1796658896.385117   28717 port.cc:153] oneDNN custom operations are on. You may see slightly different numerical results',
      ),
    ).toBe(true);
    for (const kept of [
      'W0000 00:00:1796658896.385117   28717 cpu_allocator_impl.cc:83] Allocation of 4294967296 exceeds 10% of free system memory.',
      'E0000 00:00:1796658896.385117   28717 port.cc:153] oneDNN custom operations are on. (an error line is never dropped)',
      'WARNING: something else',
      '[modelport] native TensorFlow: ready in 47.7 s',
    ])
      expect(isLoadingNoise(kept), kept).toBe(false);
  });
});

describe.skipIf(!SCRIPT || process.platform !== 'linux')('modelport serve at a terminal', () => {
  it('starts without the absl, oneDNN and CPU-feature lines, and stops on SIGTERM with 0', async () => {
    const { output, code } = await serveAtTerminal([]);
    expect(output).toMatch(/modelport \S+ listening on http:\/\/127\.0\.0\.1:\d+ \(backend tensorflow/);
    expect(output).not.toContain(ABSL);
    expect(output).not.toMatch(ONEDNN);
    expect(output).not.toMatch(CPU_FEATURES);
    expect(code).toBe(0);
  }, 120_000);

  it('--verbose shows them all', async () => {
    const { output, code } = await serveAtTerminal(['--verbose']);
    expect(output).toContain(ABSL);
    expect(output).toMatch(ONEDNN);
    expect(output).toMatch(CPU_FEATURES);
    expect(output).toMatch(/listening on http/);
    expect(code).toBe(0);
  }, 120_000);
});
