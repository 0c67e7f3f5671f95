/**
 * `modelport serve --replay <cassette>`: answers /v2 and /v1 calls from a cassette on a port, for
 * clients in any language, with no model loaded and no TensorFlow (nothing here imports runtime/
 * or server/; serve.ts branches here before it loads either). Matching and the replay headers are
 * modelport/cassette's createReplayer. SIGINT or SIGTERM closes the port and exits 0.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { CassetteFormatError, DEFAULT_ATOL, DEFAULT_RTOL, createReplayer, type ReplayOptions } from 'modelport/cassette';
import { PACKAGE_VERSION } from '../../server/package-paths';
import { UsageError } from '../output';
import { listenReplay } from './replay-server';

/** How long answers under way may take to finish once asked to stop. */
const STOP_GRACE_MS = 5_000;

/** The `serve` flags a replay uses; any other one given on the command line is refused, not ignored. */
const REPLAY_FLAGS = new Set(['replay', 'replayMode', 'rtol', 'atol', 'port', 'host']);

export interface ReplayFlags {
  replay: string;
  replayMode?: string;
  rtol?: string;
  atol?: string;
  port: string;
  host: string;
}

export async function serveReplay(flags: ReplayFlags, command: Command): Promise<void> {
  const unused = Object.keys(command.opts()).filter((key) => command.getOptionValueSource(key) === 'cli' && !REPLAY_FLAGS.has(key));
  if (unused.length > 0) {
    const names = unused.map((key) => `--${key.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)}`).join(', ');
    throw new UsageError(
      `${names} cannot go with --replay: a replay answers from the cassette only (flags: --port, --host, --replay-mode, --rtol, --atol)`,
    );
  }
  const port = Number(flags.port);
  if (!/^\d+$/.test(flags.port) || port > 65535) throw new UsageError(`--port must be 0-65535, got '${flags.port}'`);
  const options: ReplayOptions = {
    mode: flags.replayMode === 'nearest' ? 'nearest' : 'strict',
    rtol: tolerance('--rtol', flags.rtol, DEFAULT_RTOL),
    atol: tolerance('--atol', flags.atol, DEFAULT_ATOL),
  };
  const file = path.resolve(flags.replay);
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read the cassette ${file}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
  });
  let replayer: ReturnType<typeof createReplayer>;
  try {
    replayer = createReplayer(text, options);
  } catch (error) {
    if (error instanceof CassetteFormatError) throw new UsageError(`${file} is not a modelport cassette: ${error.message}`);
    throw error;
  }
  const listening = await listenReplay(replayer, port, flags.host).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'EADDRINUSE')
      throw new UsageError(`port ${port} on ${flags.host} is in use: pass --port, or --port 0 for a free one`);
    throw error;
  });
  // Listening for the signals before the URL is printed: whoever reads it may stop us at once.
  const stopped = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve).once('SIGTERM', resolve);
  });
  const count = replayer.cassette.interactions.length;
  console.log(
    `modelport ${PACKAGE_VERSION} listening on ${listening.url} (replaying ${count} interaction${count === 1 ? '' : 's'} from ${file}; ` +
      `mode ${options.mode}, rtol ${options.rtol}, atol ${options.atol}; no TensorFlow)`,
  );
  const signal = await stopped;
  // A second signal while closing stops at once.
  process.once('SIGINT', () => process.exit(130)).once('SIGTERM', () => process.exit(143));
  await listening.close(STOP_GRACE_MS);
  console.log(`${signal}: stopped replaying ${file}`);
  process.exit(0);
}

function tolerance(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0) throw new UsageError(`${flag} must be a number from 0, got '${text}'`);
  return value;
}
