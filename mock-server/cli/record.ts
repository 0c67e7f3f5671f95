/**
 * `modelport record --upstream <url> --cassette <file>`: a proxy on 127.0.0.1 that forwards /v2
 * (and read-only /v1) to any Open Inference Protocol server and writes every exchange to a
 * cassette (format v1, `modelport/cassette`; the file writer and model block are `modelport/record`'s,
 * shared with the SDK's recorder). Loads neither TensorFlow nor the server.
 * SIGINT or SIGTERM stops it: exchanges under way finish and are written, then it exits 0.
 */
import path from 'node:path';
import { Command } from 'commander';
import { CassetteExistsError, CassetteFile } from 'modelport/record';
import { RecordingProxy } from './record/proxy';
import { Upstream } from './record/upstream';
import { output, UsageError } from './output';

/** How long exchanges under way may take to finish once asked to stop. */
const STOP_GRACE_MS = 10_000;

export function recordCommand(): Command {
  const command = new Command('record')
    .description('record what clients exchange with a server (/v2, and /v1 read-only) into a cassette, through a local proxy')
    .requiredOption('--upstream <url>', 'the server to record (modelport, KServe, Triton, ...), e.g. http://127.0.0.1:8700')
    .requiredOption('--cassette <file>', 'the cassette to write (JSON lines; an existing file is refused unless --force)')
    .option('--port <port>', 'the proxy port on 127.0.0.1 (0 picks a free one)', '0')
    .option('--force', 'overwrite an existing cassette', false)
    .addHelpText('after', '\n--api-key (or MODELPORT_API_KEY) replaces the Authorization of every forwarded request; it is never written.')
    .action(async (options: { upstream: string; cassette: string; port: string; force: boolean }) => {
      const globals = command.optsWithGlobals();
      const out = output(globals.json);
      const port = Number(options.port);
      if (!/^\d+$/.test(options.port) || port > 65535) throw new UsageError(`--port ${options.port} is not a port (0 to 65535)`);
      let upstream: Upstream;
      try {
        upstream = new Upstream(options.upstream);
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
      const apiKey: string | undefined = globals.apiKey;
      const cassette = path.resolve(options.cassette);

      // The file first: an existing cassette is refused before anything is asked of the upstream.
      const writer = await CassetteFile.create(cassette, {
        overwrite: options.force,
        onWriteError: (error) => console.error(`modelport record: ${error.message}; recording stopped`),
      }).catch((error: unknown) => {
        upstream.close();
        if (error instanceof CassetteExistsError)
          throw new UsageError(`${cassette} exists: pass --force to overwrite it, or name another cassette`);
        throw error;
      });
      const recordedAt = new Date().toISOString();
      const server = await upstream.getJson('/v2', apiKey === undefined ? {} : { authorization: `Bearer ${apiKey}` });
      if (server === null)
        console.error(`modelport record: GET ${upstream.base}/v2 did not answer with JSON; the cassette's server is null`);
      void writer.writeHeader({ recorded_at: recordedAt, upstream: upstream.base, server });
      let notRecorded = 0;
      const proxy = new RecordingProxy({
        upstream,
        apiKey,
        record: (interaction) => void writer.append(interaction),
        notRecorded: (why) => {
          notRecorded++;
          console.error(`modelport record: forwarded but not recorded: ${why}`);
        },
      });
      const listening = await proxy.listen(port).catch(async (error: NodeJS.ErrnoException) => {
        upstream.close();
        await writer.close();
        throw error.code === 'EADDRINUSE' ? new UsageError(`port ${port} is taken: pass another --port, or 0 for a free one`) : error;
      });
      const proxyUrl = `http://127.0.0.1:${listening}`;
      out.result({ upstream: upstream.base, cassette, proxy: proxyUrl }, () =>
        [`recording ${upstream.base} into ${cassette}, proxy listening on ${proxyUrl}`]
          .concat(apiKey === undefined ? [] : ['(every forwarded request carries the --api-key in place of its own Authorization)'])
          .join('\n'),
      );

      const signal = await stopSignal();
      await proxy.close(STOP_GRACE_MS);
      await writer.close();
      const summary = {
        recorded: writer.recorded,
        not_recorded: notRecorded,
        cassette,
        signal,
        ...(writer.error ? { error: writer.error.message } : {}),
      };
      out.result(
        summary,
        () =>
          `${signal}: recorded ${writer.recorded} interaction${writer.recorded === 1 ? '' : 's'} into ${cassette}` +
          (notRecorded ? ` (${notRecorded} forwarded but not recorded)` : ''),
      );
      if (writer.error) process.exitCode = 1;
    });
  return command;
}

/** Resolves with the first SIGINT or SIGTERM; a second one while stopping exits at once. */
function stopSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      process.off('SIGINT', stop).off('SIGTERM', stop);
      process.once('SIGINT', () => process.exit(130)).once('SIGTERM', () => process.exit(143));
      resolve(signal);
    };
    process.on('SIGINT', stop).on('SIGTERM', stop);
  });
}
