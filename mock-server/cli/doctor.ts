/** `modelport doctor`: is native TensorFlow built and loading, and how to fix it if not. */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { NATIVE_FIX_COMMAND, loadRuntime } from '../runtime/backend';
import { PACKAGE_VERSION } from '../paths';
import type { Context } from './registry';

interface Check {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

export function doctorCommand(context: Context): Command {
  return new Command('doctor')
    .description('check the TensorFlow backend, the native build and the server')
    .option('--no-server', 'do not contact the server')
    .action(async (options) => {
      const { client, out } = context();
      const checks: Check[] = [];
      checks.push({ name: 'node', ok: Number(process.versions.node.split('.')[0]) >= 20, detail: `${process.version} on ${process.platform}/${process.arch}`, fix: 'install Node.js 20 or newer' });
      checks.push(nativeBuild());
      try {
        const runtime = await loadRuntime({ warn: () => undefined });
        checks.push({
          name: 'backend',
          ok: runtime.backend === 'tensorflow',
          detail: runtime.backend === 'tensorflow' ? `tensorflow (TensorFlow ${runtime.tensorflowVersion}, tfjs ${runtime.tfjsVersion})` : `${runtime.backend} (tfjs ${runtime.tfjsVersion}): slower, no SavedModels, no image decoding`,
          fix: NATIVE_FIX_COMMAND,
        });
      } catch (error) {
        checks.push({ name: 'backend', ok: false, detail: (error as Error).message, fix: NATIVE_FIX_COMMAND });
      }
      if (options.server) {
        try {
          const metadata = await client.server.metadata({ maxRetries: 0, timeout: 3000 });
          checks.push({ name: 'server', ok: true, detail: `${client.baseUrl}: modelport ${metadata.version}, backend ${metadata.runtime.backend}` });
        } catch (error) {
          checks.push({ name: 'server', ok: false, detail: `${client.baseUrl}: ${(error as Error).message}`, fix: 'start it with `modelport serve`, or pass --url' });
        }
      }
      out.result({ version: PACKAGE_VERSION, checks }, () => checks.map((c) => `${c.ok ? '✓' : '✗'} ${c.name.padEnd(8)} ${c.detail}${c.ok || !c.fix ? '' : `\n           fix: ${c.fix}`}`).join('\n'));
      process.exitCode = checks.every((c) => c.ok) ? 0 : 1;
    });
}

function nativeBuild(): Check {
  const require = createRequire(import.meta.url);
  let dir: string;
  try {
    dir = path.dirname(require.resolve('@tensorflow/tfjs-node/package.json'));
  } catch {
    return { name: 'native', ok: false, detail: '@tensorflow/tfjs-node is not installed', fix: 'npm install' };
  }
  const binding = path.join(dir, 'lib', 'napi-v8', 'tfjs_binding.node');
  const cache = process.env.MODELPORT_NATIVE_CACHE ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'modelport', 'native');
  return existsSync(binding)
    ? { name: 'native', ok: true, detail: `binding built (${binding}); cache ${cache}` }
    : { name: 'native', ok: false, detail: `no native binding at ${binding}`, fix: NATIVE_FIX_COMMAND };
}
