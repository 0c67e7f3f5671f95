/**
 * `npm run fuzz`: the contract fuzzer's long run (a random seed unless given).
 *   npm run fuzz -- --runs 20000 --seed 42 --minutes 10
 * Prints the seed first, so any failure can be replayed with `--seed`.
 */
import { parseArgs } from 'node:util';
import { runFuzz, summarize } from './fuzzer';
import { runRawHttpFuzz } from './http-fuzz';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '20000' },
    seed: { type: 'string' },
    minutes: { type: 'string', default: '15' },
  },
});
const seed = values.seed !== undefined ? Number(values.seed) : (Math.random() * 2 ** 31) | 0;
const runs = Number(values.runs);
console.log(
  `contract fuzz (long run): seed ${seed}, up to ${runs} runs or ${values.minutes} minutes; replay with: npm run fuzz -- --seed ${seed} --runs ${runs}`,
);
const report = await runFuzz({ seed, runs, timeLimitMs: Number(values.minutes) * 60_000, log: (line) => console.log(line) });
for (const line of summarize(report)) console.log(line);
for (const slow of report.slowest) console.log(`slow: ${slow.ms} ms ${slow.case}`);
for (const error of report.processErrors) console.log(`process error: ${error}`);
const raw = await runRawHttpFuzz({ seed, runs: Math.min(5000, Math.round(runs / 5)) });
console.log(
  `raw HTTP fuzz: ${raw.cases} requests, ${raw.responses} answers (${Object.entries(raw.statuses)
    .map(([s, n]) => `${s}: ${n}`)
    .join(', ')}), ${raw.closedWithoutAnswer} closed without one, ${raw.internalErrorsLogged} internal errors logged`,
);
for (const failure of raw.failures.slice(0, 20)) console.log(`FAIL raw: ${failure}`);
const ok =
  report.failures.length === 0 &&
  report.processErrors.length === 0 &&
  report.finalHealth.ready === 200 &&
  report.finalHealth.infer === 200 &&
  raw.failures.length === 0 &&
  raw.internalErrorsLogged === 0;
console.log(ok ? 'contract fuzz: OK' : `contract fuzz: ${report.failures.length + raw.failures.length} failures (seed ${seed})`);
process.exit(ok ? 0 : 1);
