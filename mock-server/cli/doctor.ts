/**
 * `modelport doctor`: is native TensorFlow prepared and loading, and how to fix it if not. Loading
 * the runtime prepares native TensorFlow in the cache when it is missing, as a server start would,
 * so after a fix (a compiler installed, say) running doctor again is the way to get it.
 */
import { Command } from 'commander';
import { loadRuntime, type Runtime } from '../runtime/backend';
import { nativeEntry } from '../runtime/native/prepare.mjs';
import { PACKAGE_ROOT, PACKAGE_VERSION } from '../server/package-paths';
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
      checks.push({
        name: 'node',
        ok: Number(process.versions.node.split('.')[0]) >= 20,
        detail: `${process.version} on ${process.platform}/${process.arch}`,
        fix: 'install Node.js 20 or newer',
      });
      let runtime: Runtime | undefined;
      let failure: Error | undefined;
      try {
        runtime = await loadRuntime({ warn: () => undefined });
      } catch (error) {
        failure = error as Error;
      }
      checks.push(nativeCheck(runtime));
      checks.push(
        runtime
          ? {
              name: 'backend',
              ok: runtime.backend === 'tensorflow',
              detail:
                runtime.backend === 'tensorflow'
                  ? `tensorflow (TensorFlow ${runtime.tensorflowVersion}, tfjs ${runtime.tfjsVersion})`
                  : `${runtime.backend} (tfjs ${runtime.tfjsVersion}): slower, no SavedModels, no image decoding`,
              fix: runtime.nativeUnavailable?.fix ?? 'unset MODELPORT_BACKEND, which forces this backend',
            }
          : { name: 'backend', ok: false, detail: failure!.message },
      );
      if (options.server) {
        try {
          const metadata = await client.server.metadata({ maxRetries: 0, timeout: 3000 });
          checks.push({
            name: 'server',
            ok: true,
            detail: `${client.baseUrl}: modelport ${metadata.version}, backend ${metadata.runtime.backend}`,
          });
        } catch (error) {
          checks.push({
            name: 'server',
            ok: false,
            detail: `${client.baseUrl}: ${(error as Error).message}`,
            fix: 'start it with `modelport serve`, or pass --url',
          });
        }
      }
      out.result({ version: PACKAGE_VERSION, checks }, () =>
        checks
          .map((c) => `${c.ok ? '✓' : '✗'} ${c.name.padEnd(8)} ${c.detail}${c.ok || !c.fix ? '' : `\n           fix: ${c.fix}`}`)
          .join('\n'),
      );
      process.exitCode = checks.every((c) => c.ok) ? 0 : 1;
    });
}

/** Where native TensorFlow lives (modelport's cache, never node_modules) and whether it is prepared. */
function nativeCheck(runtime: Runtime | undefined): Check {
  const entry = nativeEntry(PACKAGE_ROOT);
  if (entry.ready) return { name: 'native', ok: true, detail: `prepared in ${entry.dir}` };
  const why = runtime?.nativeUnavailable;
  return {
    name: 'native',
    ok: false,
    detail: `not prepared in ${entry.dir ?? entry.cacheRoot}${why ? `: ${why.reason}` : ''}`,
    ...(why ? { fix: why.fix } : {}),
  };
}
