/**
 * `modelport cassette diff <cassette> --against <url> [--model m[@v|@alias]]`: re-sends every
 * recorded infer request to a server and prints, per model, what changed (the SDK's diffCassette).
 * Exit codes as `modelport conformance`: 0 within the thresholds, 1 when one is crossed (each one
 * named on stderr), 2 a usage or cassette error, 3 the server did not answer.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Command } from 'commander';
import type { DriftReport, DriftThresholds } from 'modelport/cassette';
import { finiteNumber, positive, wholeNumber } from '../flags';
import { EXIT, output, UsageError } from '../output';

interface DiffFlags {
  against: string;
  model?: string;
  from?: string;
  maxFlips?: string;
  maxDelta?: string;
  maxFailures: string;
  concurrency: string;
  timeout: string;
  examples: string;
}

export function diffCommand(): Command {
  const command = new Command('diff')
    .description(
      're-send every recorded infer request to a server and report per model what changed: max |Δ| per output, label flips, latency',
    )
    .argument('<cassette>', 'a cassette written by `modelport record` or modelport/record')
    .requiredOption('--against <url>', 'the server to re-send to, e.g. http://127.0.0.1:8700')
    .option('--model <model>', 'send to name, name@version, name@alias or @alias instead of the recorded model and version')
    .option('--from <model>', 'only the requests recorded on this model (needed with a --model name when the cassette has several)')
    .option('--max-flips <n>', 'exit 1 when a model has more label flips than this')
    .option('--max-delta <x>', "exit 1 when an output's max |Δ| is above this (or its datatype or shape changed)")
    .option('--max-failures <n>', 'exit 1 when more requests than this fail now', '0')
    .option('--concurrency <n>', 'requests in flight at once (1 keeps latencies comparable with a one-at-a-time recording)', '1')
    .option('--timeout <ms>', 'each request must be answered within this, else it fails now', '30000')
    .option('--examples <n>', 'label flips listed per output in the table (--json lists all)', '5')
    .addHelpText(
      'after',
      '\n--api-key (or MODELPORT_API_KEY) is sent as Authorization: Bearer; --json prints the report with the thresholds crossed.',
    )
    .action(async (file: string, flags: DiffFlags) => {
      const globals = command.optsWithGlobals();
      const out = output(globals.json);
      const thresholds: DriftThresholds = {
        ...(flags.maxFlips === undefined ? {} : { maxFlips: wholeNumber(flags.maxFlips, '--max-flips') }),
        ...(flags.maxDelta === undefined ? {} : { maxDelta: nonNegative(flags.maxDelta, '--max-delta') }),
        maxFailures: wholeNumber(flags.maxFailures, '--max-failures'),
      };
      const concurrency = positive(flags.concurrency, '--concurrency');
      const timeoutMs = positive(flags.timeout, '--timeout');
      const examples = wholeNumber(flags.examples, '--examples');
      const cassettePath = path.resolve(file);
      const text = await readFile(cassettePath, 'utf8').catch((error: NodeJS.ErrnoException) => {
        throw new UsageError(`cannot read the cassette ${cassettePath} (${error.code})`);
      });
      // Loaded here, not at start: `modelport serve` does not need them.
      const { CassetteFormatError, DiffError, crossedThresholds, diffCassette, parseCassette } = await import('modelport/cassette');
      const { driftTable } = await import('./diff-table');
      const progress = process.stderr.isTTY
        ? (done: number, total: number) => process.stderr.write(`\rre-sent ${done}/${total}`)
        : undefined;
      let report: DriftReport;
      try {
        report = await diffCassette(parseCassette(text), {
          against: flags.against,
          model: flags.model,
          from: flags.from,
          apiKey: globals.apiKey,
          concurrency,
          timeoutMs,
          onProgress: progress,
        });
      } catch (error) {
        if (error instanceof CassetteFormatError) throw new UsageError(`${cassettePath}: ${error.message}`);
        if (error instanceof DiffError) throw new UsageError(error.message);
        throw error;
      } finally {
        if (progress) process.stderr.write('\r\x1b[K');
      }
      const crossed = crossedThresholds(report, thresholds);
      out.result({ ...report, crossed }, () => driftTable(report, cassettePath, examples));
      for (const line of crossed) console.error(`modelport cassette diff: threshold crossed: ${line}`);
      if (crossed.length > 0) process.exitCode = EXIT.apiError;
    });
  return command;
}

function nonNegative(text: string, what: string): number {
  const value = finiteNumber(text, what);
  if (value < 0) throw new UsageError(`${what} must be 0 or more, got '${text}'`);
  return value;
}
