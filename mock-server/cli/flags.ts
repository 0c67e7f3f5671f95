/** Reading what the user typed: numbers, lists, JSON and files from flags, as usage errors (exit 2) that name the flag. */
import { readFile } from 'node:fs/promises';
import { UsageError } from './output';

export function split(list: string | undefined): string[] | undefined {
  return list === undefined
    ? undefined
    : list
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
}

export function positive(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${what} must be a positive integer, got '${text}'`);
  return n;
}

export function wholeNumber(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`${what} must be a whole number, got '${text}'`);
  return n;
}

export function finiteNumber(text: string, what: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n)) throw new UsageError(`${what} must be a number, got '${text}'`);
  return n;
}

/** JSON from a flag or a file; a parse error names where it came from. */
export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${what} is not JSON: ${(error as Error).message}`);
  }
}

/** A file the user named (`what` says which, e.g. 'the input'); a missing one is a usage error. */
export function readUserFile(file: string, what: string): Promise<Buffer> {
  return readFile(file).catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot read ${what} ${file} (${error.code})`);
  });
}
