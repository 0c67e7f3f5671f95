/**
 * Global setup/teardown: every server started by the run, in a test worker or in a child process
 * (crash and CLI tests inherit the environment), appends responses that do not match openapi.yaml
 * to the file MODELPORT_VALIDATE_RESPONSES names; any line in it at the end fails the run.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import type { TestProject } from 'vitest/node';

export default function setup(project: TestProject): () => void {
  const log = project.config.env?.MODELPORT_VALIDATE_RESPONSES;
  if (!log || log === '1') return () => undefined;
  rmSync(log, { force: true });
  // Servers started by global setups (the global-setup example's) check their responses too.
  process.env.MODELPORT_VALIDATE_RESPONSES = log;
  return () => {
    if (!existsSync(log)) return;
    const lines = readFileSync(log, 'utf8').split('\n').filter(Boolean);
    rmSync(log, { force: true });
    if (!lines.length) return;
    process.exitCode = 1;
    throw new Error(`${lines.length} response(s) from test servers do not match openapi.yaml:\n${lines.slice(0, 20).join('\n')}`);
  };
}
