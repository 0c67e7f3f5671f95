/** `modelport serve`: the local model server on a port. */
import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { BACKENDS, type BackendName } from '../runtime/backend';
import { UsageError } from './output';
import type { ServerOptions } from '../server/state';
import { positive } from './flags';
import { addRequestLimitFlags, requestLimitOptions } from './request-limit-flags';
import { addDecodeLimitFlags, decodeLimitOptions } from './decode-limit-flags';
import { isVerbose } from '../runtime/log-level';
import { onFilteringParentGone, serveInFilteredChild, wantsFilteredChild } from './quiet-start';

/** The upload inspection and export build flags (server/state.ts has their options and defaults). */
function uploadInspectionOptions(flags: Record<string, string | undefined>): ServerOptions {
  const read = (flag: string, text: string | undefined) => (text === undefined ? undefined : positive(text, flag));
  const timeout = read('--upload-inspection-timeout', flags.uploadInspectionTimeout);
  const memory = read('--upload-inspection-memory', flags.uploadInspectionMemory);
  const expansion = read('--max-upload-expansion', flags.maxUploadExpansion);
  const inspections = read('--upload-inspections', flags.uploadInspections);
  const exportBuilds = read('--export-builds', flags.exportBuilds);
  const load = read('--max-model-load-seconds', flags.maxModelLoadSeconds);
  return {
    ...(load ? { maxModelLoadMs: load * 1000 } : {}),
    ...(timeout ? { uploadInspectionTimeoutMs: timeout * 1000 } : {}),
    ...(memory ? { uploadInspectionMemoryMb: memory } : {}),
    ...(expansion ? { maxUploadExpansion: expansion } : {}),
    ...(inspections ? { uploadInspections: inspections } : {}),
    ...(exportBuilds ? { exportBuilds } : {}),
  };
}

export function serveCommand(): Command {
  return addDecodeLimitFlags(addRequestLimitFlags(new Command('serve')))
    .description('start the model server with the models in --data-dir (the bundled ones on first run)')
    .addOption(new Option('--port <port>', 'port (0 picks a free one)').env('MODELPORT_PORT').default('8700'))
    .addOption(new Option('--host <host>', 'interface to bind').env('MODELPORT_HOST').default('127.0.0.1'))
    .addOption(new Option('--data-dir <dir>', 'the model repository').env('MODELPORT_DATA_DIR').default('./.modelport'))
    .addOption(new Option('--backend <name>', 'force a TensorFlow.js backend').env('MODELPORT_BACKEND').choices(BACKENDS))
    .option('--no-auth', 'no API keys needed')
    .option('--mock-controls', 'enable /_mock test controls (admin only)', false)
    .addOption(new Option('--cors <origins>', 'comma-separated origins allowed by CORS, or *').env('MODELPORT_CORS'))
    .addOption(new Option('--rate-limit <rps>', 'default per-key rate limit, requests per second').env('MODELPORT_RATE_LIMIT'))
    .addOption(
      new Option('--max-in-flight <n>', 'inference requests one model may have in flight; beyond, 503 + Retry-After').env(
        'MODELPORT_MAX_IN_FLIGHT',
      ),
    )
    .option(
      '--trust-models',
      'skip the op allowlist of uploaded SavedModels (they may then read and write files): trusted uploaders only',
      false,
    )
    .addOption(
      new Option('--upload-inspection-timeout <seconds>', 'how long one upload may take to unpack, check and test-load (default 60)').env(
        'MODELPORT_UPLOAD_INSPECTION_TIMEOUT',
      ),
    )
    .addOption(
      new Option('--upload-inspection-memory <mb>', "resident memory of one upload's inspection process (default 2048)").env(
        'MODELPORT_UPLOAD_INSPECTION_MEMORY',
      ),
    )
    .addOption(
      new Option('--max-upload-expansion <ratio>', 'bytes an upload may unpack to per byte received, above 8 MiB (default 100)').env(
        'MODELPORT_MAX_UPLOAD_EXPANSION',
      ),
    )
    .addOption(
      new Option('--upload-inspections <n>', 'uploads inspected at once; more wait (default 2)').env('MODELPORT_UPLOAD_INSPECTIONS'),
    )
    .addOption(
      new Option('--export-builds <n>', 'exports built (converted and written) at once; more wait (default 2)').env(
        'MODELPORT_EXPORT_BUILDS',
      ),
    )
    .addOption(
      new Option(
        '--max-model-load-seconds <seconds>',
        'an upload whose test-load takes longer is refused: serving loads it again on the event loop (default 10)',
      ).env('MODELPORT_MAX_MODEL_LOAD_SECONDS'),
    )
    .option(
      '--verbose',
      "TensorFlow's own log lines too: its INFO logs, and the two lines it prints while loading that no log level hides (env MODELPORT_VERBOSE=1)",
      false,
    )
    .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate')
    .option('--tls-key <file>', 'and this PEM key')
    .option('--replay <cassette>', 'answer /v2 and /v1 from a recorded cassette instead of models: no model, no TensorFlow loaded')
    .addOption(
      new Option('--replay-mode <mode>', 'with --replay: strict (default; a miss is 404) or nearest').choices(['strict', 'nearest']),
    )
    .option('--rtol <n>', 'with --replay: relative tolerance on float inputs (default 1e-5)')
    .option('--atol <n>', 'with --replay: absolute tolerance on float inputs (default 1e-6)')
    .addHelpText(
      'after',
      '\nThe admin API key comes from MODELPORT_API_KEY, or is generated and printed at start.' +
        '\nTensorFlow logs its warnings and errors (TF_CPP_MIN_LOG_LEVEL=1); a TF_CPP_MIN_LOG_LEVEL you set wins.',
    )
    .action(async (options, command: Command) => {
      // A replay needs neither the server nor TensorFlow: branch before anything loads them.
      if (options.replay !== undefined) return (await import('./replay/serve-replay')).serveReplay(options, command);
      const replayOnly = ['replayMode', 'rtol', 'atol'].find((key) => options[key] !== undefined);
      if (replayOnly) throw new UsageError(`--${replayOnly === 'replayMode' ? 'replay-mode' : replayOnly} goes with --replay <cassette>`);
      // Before anything loads TensorFlow: its log level is read when its library loads.
      const verbose = Boolean(options.verbose) || isVerbose();
      if (verbose) process.env.MODELPORT_VERBOSE = '1';
      if (wantsFilteredChild(verbose)) return serveInFilteredChild();
      // Loaded here, not at the top: the filtering parent above never needs the server.
      const [{ createModelServer }, { listen }] = await Promise.all([import('../server/create-server'), import('../http/node-adapter')]);
      const port = Number(options.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be 0-65535, got '${options.port}'`);
      const rate = options.rateLimit === undefined ? undefined : Number(options.rateLimit);
      if (rate !== undefined && !(rate >= 0.001 && rate <= 1_000_000))
        throw new UsageError(`--rate-limit must be 0.001 to 1000000 requests per second, got '${options.rateLimit}'`);
      const maxInFlight = options.maxInFlight === undefined ? undefined : Number(options.maxInFlight);
      if (maxInFlight !== undefined && !(Number.isInteger(maxInFlight) && maxInFlight > 0))
        throw new UsageError(`--max-in-flight must be a positive integer, got '${options.maxInFlight}'`);
      if (Boolean(options.tlsCert) !== Boolean(options.tlsKey)) throw new UsageError('--tls-cert and --tls-key go together');
      const tls = options.tlsCert ? { cert: await readFile(options.tlsCert), key: await readFile(options.tlsKey) } : undefined;
      const server = await createModelServer({
        backend: options.backend as BackendName | undefined,
        auth: options.auth,
        dataDir: options.dataDir,
        mockControls: options.mockControls,
        trustUploadedModels: options.trustModels,
        ...(options.cors
          ? {
              cors:
                options.cors === '*'
                  ? '*'
                  : String(options.cors)
                      .split(',')
                      .map((o) => o.trim()),
            }
          : {}),
        ...(rate ? { defaultRateLimit: { requests_per_second: rate } } : {}),
        ...(maxInFlight ? { maxInFlightPerModel: maxInFlight } : {}),
        ...uploadInspectionOptions(options),
        ...requestLimitOptions(options),
        ...decodeLimitOptions(options),
      });
      const { headersTimeoutMs, bodyTimeoutMs } = server.state.options;
      const listening = await listen(server.handler, { port, host: options.host, tls, headersTimeoutMs, bodyTimeoutMs }).catch(
        async (error: NodeJS.ErrnoException) => {
          await server.close();
          if (error.code === 'EADDRINUSE')
            throw new Error(
              `port ${port} on ${options.host} is in use (another modelport serve?): pass --port, or --port 0 for a free one`,
            );
          throw error;
        },
      );
      const { runtime } = server.state;
      if (server.state.options.auth && server.adminKeyGenerated) {
        console.log(`admin API key (shown once; set MODELPORT_API_KEY to choose your own): ${server.adminKey}`);
      }
      const tf = runtime.tensorflowVersion ? `TensorFlow ${runtime.tensorflowVersion}` : `tfjs ${runtime.tfjsVersion}`;
      console.log(
        `modelport ${server.state.version} listening on ${listening.url} (backend ${runtime.backend}, ${tf}; models in ${server.state.models.repository.modelsDir})`,
      );
      const stop = async () => {
        await listening.close();
        await server.close();
        process.exit(0);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      onFilteringParentGone(stop);
      await new Promise(() => {}); // serve until a signal
    });
}
