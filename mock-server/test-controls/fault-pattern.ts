/**
 * A fault's `path` pattern, compiled so that matching it cannot stall the server: `(a+)+$` took
 * 4.4 s on a 27-character path with a plain RegExp (issue #18). Three bounds:
 * - the pattern's length (MAX_PATTERN) and the length of a path it is tried on (MAX_MATCHED_PATH;
 *   longer paths never match a fault's pattern);
 * - safe-regex2 (fastify's) refuses nested quantifiers, the classic catastrophic shape, with a 400;
 * - what safe-regex2 cannot see (`(a|aa)+$` backtracks exponentially with one quantifier) runs on
 *   V8's linear-time engine (the `l` flag, behind `--enable-experimental-regexp-engine`, turned on
 *   when the first pattern is compiled). Patterns that engine cannot run (back-references,
 *   lookaround) are refused. Where the engine is missing, the first two bounds still hold.
 */
import { setFlagsFromString } from 'node:v8';
import safeRegex from 'safe-regex2';
import { badRequest } from '../http/errors';

export const MAX_PATTERN = 500;
export const MAX_MATCHED_PATH = 2048;

/** V8's flag for its linear-time engine (a variable: a literal /…/l is a syntax error where the engine is off). */
const LINEAR_FLAG = 'l';
let linear: boolean | undefined;

/** Whether V8's linear-time engine takes patterns in this process (turned on at the first call). */
function linearEngine(): boolean {
  if (linear !== undefined) return linear;
  if (!canCompileLinear()) {
    try {
      setFlagsFromString('--enable-experimental-regexp-engine');
    } catch {
      // not V8, or a V8 without the flag
    }
  }
  linear = canCompileLinear();
  return linear;
}

function canCompileLinear(): boolean {
  try {
    new RegExp('a', LINEAR_FLAG);
    return true;
  } catch {
    return false;
  }
}

/** The fault's pattern, ready to test paths; 400 (naming `/path`) for one that is invalid or could backtrack catastrophically. */
export function compilePathPattern(source: string): RegExp {
  const refuse = (message: string, detail: string) =>
    badRequest(`fault path pattern ${JSON.stringify(source.slice(0, 100))}: ${message}`, [{ path: '/path', message: detail }]);
  if (source.length > MAX_PATTERN)
    throw refuse(`${source.length} characters; the limit is ${MAX_PATTERN}`, `at most ${MAX_PATTERN} characters`);
  try {
    new RegExp(source);
  } catch (error) {
    throw refuse(`not a valid regular expression (${(error as Error).message})`, 'invalid regular expression');
  }
  if (!safeRegex(source)) {
    throw refuse(
      'nested quantifiers (like (a+)+) can take exponential time to match; write it without a quantifier inside a quantified group',
      'catastrophic backtracking',
    );
  }
  if (!linearEngine()) return new RegExp(source);
  try {
    return new RegExp(source, LINEAR_FLAG);
  } catch {
    throw refuse('back-references and lookaround cannot be matched in linear time; write it without them', 'not matchable in linear time');
  }
}
