/**
 * `modelport conformance [url]`: the Open Inference Protocol REST checks the SDK relies on, run
 * against any server (modelport, Triton, KServe, ...), with the evidence of each answer. Exit
 * code 1 when a check fails, 2 when no model can be chosen (pass --model), 3 when the server
 * does not answer at all.
 */
import { Command } from 'commander';
import { runConformance } from './conformance/checks';
import { NoAnswer } from './conformance/exchange';
import { conformanceTable, countOutcomes } from './conformance/table';
import { EXIT, output, UsageError } from './output';

export function conformanceCommand(): Command {
  const command = new Command('conformance')
    .description('check a server against the Open Inference Protocol REST API the SDK relies on; a table of pass/fail/not offered')
    .argument('[url]', 'the server (default: --url)')
    .option('--model <name>', 'the model to check (default: the first READY model of the repository index)')
    .option('--model-version <version>', "the version to check (default: the index's, else the metadata's first)")
    .option('--timeout <ms>', 'each request must be answered within this', '10000')
    .action(async (url: string | undefined, options) => {
      const globals = command.optsWithGlobals();
      const baseUrl = (url ?? globals.url).replace(/\/+$/, '');
      const out = output(globals.json);
      const timeoutMs = Number(options.timeout);
      if (!Number.isInteger(timeoutMs) || timeoutMs < 1)
        throw new UsageError(`--timeout ${options.timeout} is not a whole number of milliseconds above 0`);
      let report: Awaited<ReturnType<typeof runConformance>>;
      try {
        report = await runConformance({
          target: { baseUrl, apiKey: globals.apiKey, timeoutMs },
          model: options.model,
          version: options.modelVersion,
        });
      } catch (error) {
        if (!(error instanceof NoAnswer)) throw error;
        console.error(`modelport conformance: ${error.message}`);
        process.exitCode = EXIT.unreachable;
        return;
      }
      const counts = countOutcomes(report.results);
      out.result({ ...report, counts }, () => conformanceTable(report));
      if (report.results.every((r) => r.evidence.startsWith('no answer:'))) process.exitCode = EXIT.unreachable;
      else if (counts.fail > 0) process.exitCode = EXIT.apiError;
      else if (report.needsModel) process.exitCode = EXIT.usage;
    });
  return command;
}
