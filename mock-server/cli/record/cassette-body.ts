/**
 * A recorded body, never lossy: `{ json }` when parsing and re-serializing the bytes keeps every
 * value (readable diffs for the usual JSON tensors), else `{ base64 }` of the exact bytes: binary
 * tensor bodies (Inference-Header-Content-Length), text that is not JSON or not UTF-8, and JSON
 * whose numbers a float64 would change (an INT64 past 2^53, -0, a literal that overflows).
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { CassetteBody } from './cassette-format';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const NUMBER = /-?\d+(\.\d+)?([eE][+-]?\d+)?/y;

export function cassetteBody(bytes: Buffer, headers: IncomingHttpHeaders): CassetteBody | null {
  if (bytes.byteLength === 0) return null;
  if (headers['inference-header-content-length'] === undefined) {
    const parsed = exactJson(bytes);
    if (parsed) return { json: parsed.value };
  }
  return { base64: bytes.toString('base64') };
}

/** The parsed value when the bytes are UTF-8 JSON that JSON.parse reads without changing a number; else undefined. */
function exactJson(bytes: Buffer): { value: unknown } | undefined {
  let text: string;
  let value: unknown;
  try {
    text = utf8.decode(bytes);
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  return numbersSurviveFloat64(text) ? { value } : undefined;
}

/** Walks the number literals of valid JSON text (strings skipped) and checks each reads back as itself. */
function numbersSurviveFloat64(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (char === '"') {
      for (i++; text[i] !== '"'; i++) if (text[i] === '\\') i++;
    } else if (char === '-' || (char >= '0' && char <= '9')) {
      NUMBER.lastIndex = i;
      const match = NUMBER.exec(text)!;
      const value = Number(match[0]);
      const isIntegerLiteral = match[1] === undefined && match[2] === undefined;
      if (!Number.isFinite(value) || Object.is(value, -0) || (isIntegerLiteral && !Number.isSafeInteger(value))) return false;
      i += match[0].length - 1;
    }
  }
  return true;
}
