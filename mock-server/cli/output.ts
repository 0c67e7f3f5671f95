/** How the CLI speaks: human tables by default, JSON with --json, and exit codes that mean something. */
import { APIError, ConnectionError, TimeoutError, TrainingJobError } from 'modelport';
import { EvaluationFailedError } from 'modelport';

export const EXIT = { ok: 0, apiError: 1, usage: 2, unreachable: 3, jobFailed: 4, noneEligible: 5 } as const;

export class UsageError extends Error {}

export interface Output {
  json: boolean;
  /** Prints `data` as JSON, or `human()`'s text. */
  result(data: unknown, human: () => string): void;
}

export function output(json: boolean): Output {
  return {
    json,
    result(data, human) {
      console.log(json ? JSON.stringify(data, null, 2) : human());
    },
  };
}

/** Sizes in tables: whole KiB. */
export function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(0)} KiB`;
}

/** A progress bar on stderr for long jobs (none with --json); lines every second when not a TTY. */
export async function progressBar(out: Output, format: string) {
  if (out.json) return undefined;
  const { SingleBar, Presets } = await import('cli-progress');
  return new SingleBar(
    { format, hideCursor: true, stream: process.stderr, noTTYOutput: true, notTTYSchedule: 1000 },
    Presets.shades_classic,
  );
}

/** A plain text table: columns padded to their widest cell. */
export function table(headers: string[], rows: (string | number | undefined)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === undefined ? '' : String(c))))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells
    .map((r) =>
      r
        .map((c, i) => (c ?? '').padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Maps an error to a message on stderr and an exit code. */
export function fail(error: unknown, json: boolean): number {
  const code =
    error instanceof UsageError
      ? EXIT.usage
      : error instanceof ConnectionError || error instanceof TimeoutError
        ? EXIT.unreachable
        : error instanceof TrainingJobError || error instanceof EvaluationFailedError
          ? EXIT.jobFailed
          : EXIT.apiError;
  if (json && error instanceof APIError) {
    console.error(
      JSON.stringify({ error: error.message, status: error.status, code: error.code, details: error.details, request_id: error.requestId }),
    );
  } else {
    const detail =
      error instanceof APIError && error.details.length ? `\n${error.details.map((d) => `  ${d.path}: ${d.message}`).join('\n')}` : '';
    console.error(`modelport: ${error instanceof Error ? error.message : String(error)}${detail}`);
    if (code === EXIT.unreachable) console.error('  is the server running? start it with `modelport serve`, or pass --url');
  }
  return code;
}
