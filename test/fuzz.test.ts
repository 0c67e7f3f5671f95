/**
 * The contract fuzzer's short run (test/fuzz/): every operation in openapi.yaml, valid and broken
 * requests, against an in-process server. A fixed seed keeps it reproducible; `npm run fuzz`
 * runs long with a random one. See RELIABILITY.md for the figures of the last runs.
 */
import { describe, expect, it } from 'vitest';
import { runFuzz, summarize } from './fuzz/fuzzer';
import { runRawHttpFuzz } from './fuzz/http-fuzz';

const SEED = Number(process.env.FUZZ_SEED ?? 20261122);
const RUNS = Number(process.env.FUZZ_RUNS ?? 1500);
const RAW_RUNS = Math.round(RUNS / 5);

describe('contract fuzz', () => {
  it(`answers ${RUNS} generated requests (seed ${SEED}) as openapi.yaml says, with no 5xx and no crash`, async () => {
    console.log(
      `contract fuzz: seed ${SEED}, ${RUNS} runs (replay: FUZZ_SEED=${SEED} FUZZ_RUNS=${RUNS} npx vitest run --config test/vitest.config.ts test/fuzz.test.ts)`,
    );
    const report = await runFuzz({ seed: SEED, runs: RUNS });
    console.log(summarize(report).join('\n'));
    const shown = report.failures.slice(0, 10).map((f) => `${f.kind}: ${f.case}\n    ${f.problems.join('\n    ')}`);
    expect(shown, `${report.failures.length} failures`).toEqual([]);
    expect(report.processErrors).toEqual([]);
    expect(report.crashes).toBe(0);
    expect(report.serverErrors).toBe(0);
    expect(report.undeclaredCrossCutting).toEqual({});
    expect(report.finalHealth).toEqual({ ready: 200, infer: 200 });
    // The run reached every operation, and most of them with a success.
    const reached = Object.keys(report.byOperation).filter((id) => id !== '(no route)');
    expect(reached.length).toBe(report.operations);
    expect(reached.filter((id) => report.byOperation[id]!.success > 0).length).toBeGreaterThanOrEqual(45);
    expect(report.requests).toBeGreaterThan(RUNS * 0.95);
  }, 300_000); // each accepted upload is inspected in a child process (1-10 s on a busy machine)

  it(`answers ${RAW_RUNS} malformed raw HTTP requests (seed ${SEED}) without a 5xx, and keeps serving`, async () => {
    const report = await runRawHttpFuzz({ seed: SEED, runs: RAW_RUNS });
    console.log(
      `raw HTTP fuzz: ${report.cases} requests, ${report.responses} answers (${Object.entries(report.statuses)
        .map(([s, n]) => `${s}: ${n}`)
        .join(
          ', ',
        )}), ${report.closedWithoutAnswer} connections closed without one, ${report.internalErrorsLogged} internal errors logged, ${report.failures.length} failures`,
    );
    expect(report.failures.slice(0, 10)).toEqual([]);
    expect(report.internalErrorsLogged).toBe(0);
  });
});
