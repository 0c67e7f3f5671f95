/**
 * How far an uploaded archive may expand, checked twice: on what its headers DECLARE (the zip
 * central directory, the gzip trailer, each tar header) before anything is inflated, and on the
 * bytes actually produced while inflating, so a header that lies cannot go past the limit either.
 *
 * Two limits: the unpacked total (`maxExpandedBytes`), and the expansion ratio, unpacked bytes
 * per byte received, which only counts above RATIO_FREE_BYTES: small archives of JSON or
 * zeros legitimately compress far beyond any ratio, a bomb needs both a ratio and a size.
 */
import { HttpError } from '../http/errors';

export interface ExpansionLimits {
  /** Bytes the unpacked files may hold in all. */
  maxExpandedBytes: number;
  /** Unpacked bytes per byte received, above RATIO_FREE_BYTES (--max-upload-expansion). */
  maxRatio: number;
}

/** Unpacked sizes up to this are never refused for their ratio. */
export const RATIO_FREE_BYTES = 8 * 1024 * 1024;

export class ExpansionBudget {
  /** What the archive may expand to: the smaller of the total limit and the ratio's allowance. */
  readonly allowed: number;
  private produced = 0;
  private declared = 0;

  constructor(
    private readonly limits: ExpansionLimits,
    private readonly receivedBytes: number,
  ) {
    this.allowed = Math.min(limits.maxExpandedBytes, Math.max(RATIO_FREE_BYTES, limits.maxRatio * receivedBytes));
  }

  /** Adds what a header declares (`where`: "the zip's central directory", "tar entry 'x'"); refuses before inflating. */
  declare(bytes: number, where: string): void {
    this.declared += bytes;
    if (this.declared > this.allowed) throw this.refusal(this.declared, `${where} declares`);
  }

  /** Counts bytes as they are inflated; `declared` names what the header had said, for the message. */
  produce(bytes: number, declared?: string): void {
    this.produced += bytes;
    if (this.produced > this.allowed) throw this.refusal(this.produced, `the upload inflates to more than`, declared);
  }

  private refusal(bytes: number, what: string, declared?: string): HttpError {
    const size = `${what} ${count(bytes)} bytes${declared ? ` (${declared})` : ''} once unpacked`;
    const overTotal = bytes > this.limits.maxExpandedBytes;
    const limit = overTotal
      ? `the limit is ${count(this.limits.maxExpandedBytes)} bytes unpacked`
      : `from ${count(this.receivedBytes)} bytes received that is more than ${this.limits.maxRatio}:1, and uploads over ` +
        `${count(RATIO_FREE_BYTES)} bytes unpacked may expand at most ${this.limits.maxRatio}:1 (--max-upload-expansion)`;
    return new HttpError(413, 'payload_too_large', `${size}; ${limit}`, [
      { path: '/', message: `expands to ${count(bytes)} bytes; at most ${count(this.allowed)} allowed for this upload` },
    ]);
  }
}

/** 1234567 → "1,234,567". */
export function count(n: number): string {
  return n.toLocaleString('en-US');
}
