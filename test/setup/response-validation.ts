/**
 * Per test file (a vitest setup file): fails the file if any response sent by its servers, in
 * this process or in child processes it started, did not match openapi.yaml. The servers check
 * every response because the config sets MODELPORT_VALIDATE_RESPONSES to a file they also log
 * violations to (see mock-server/contract/response-validation.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { afterAll } from 'vitest';
import { takeResponseViolations, type ResponseViolation } from '../../mock-server/contract/response-validation';

afterAll(() => {
  const violations: (ResponseViolation & { pid?: number })[] = takeResponseViolations();
  const log = process.env.MODELPORT_VALIDATE_RESPONSES;
  if (log && log !== '1' && existsSync(log)) {
    for (const line of readFileSync(log, 'utf8').split('\n').filter(Boolean)) {
      const entry = JSON.parse(line) as ResponseViolation & { pid: number; ppid: number };
      if (entry.ppid === process.pid) violations.push(entry); // a server this file started in a child process
    }
  }
  if (!violations.length) return;
  const lines = violations
    .slice(0, 20)
    .map(
      (v) =>
        `  ${v.pid ? `[child ${v.pid}] ` : ''}${v.method} ${v.path} → ${v.status} (${v.operation ?? 'no operation'}): ${v.problems.join('; ')}`,
    );
  throw new Error(`${violations.length} response(s) do not match openapi.yaml:\n${lines.join('\n')}`);
});
