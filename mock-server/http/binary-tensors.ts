/**
 * The binary tensor extension's one header. As in Triton, a request body is binary when it carries
 * `Inference-Header-Content-Length`, whatever its Content-Type (tritonclient.http sends binary
 * bodies with none, tritonclient.http.aio as application/octet-stream), and JSON when it does not.
 */
import { HEADER_LENGTH_HEADER } from 'modelport';
import { badRequest, HttpError } from './errors';
import type { HeaderBag } from './request';

export { HEADER_LENGTH_HEADER };

/** The body type an operation declares when its body may be binary tensors (in openapi.yaml, inference's alone). */
export const BINARY_TENSOR_MEDIA_TYPE = 'application/octet-stream';

/** An int32, as Triton parses the header into. */
const MAX_HEADER_LENGTH = 2 ** 31 - 1;

/**
 * The JSON header's byte length, or undefined when the header is absent (a JSON body). Only
 * decimal digits are a length: Triton reads the value with `std::stoi`, which stops at the first
 * other character, so `0x1a` is 0 there (its raw-input mode), `26abc` 26 and `1e3` 1. Rather
 * than guess, anything but 1-10 digits is refused (400 `invalid_binary_header`), and so is 0:
 * Triton's raw binary request (a body that is one input's bytes, no JSON) is not OIP.
 */
export function binaryHeaderLength(headers: HeaderBag): number | undefined {
  const value = headers.get(HEADER_LENGTH_HEADER);
  if (value === null) return undefined;
  const length = /^\d{1,10}$/.test(value) ? Number(value) : Number.NaN;
  if (!(length <= MAX_HEADER_LENGTH)) {
    throw invalidHeader(
      `Inference-Header-Content-Length '${value}' is not a byte count: send the JSON header's length in decimal digits`,
      'must be decimal digits',
    );
  }
  if (length === 0) {
    throw invalidHeader(
      "Inference-Header-Content-Length 0 (Triton's raw binary request, a body holding one input's bytes and no JSON) is not supported: send the JSON request first and its length",
      'must be at least 1',
    );
  }
  return length;
}

/**
 * 413 for a JSON header longer than JSON bodies may be, before the body is read: the header is
 * parsed as JSON bodies are, so the binary body's larger limit must not carry a larger JSON document.
 */
export function checkBinaryHeaderLength(length: number, maxJsonBytes: number): void {
  if (length <= maxJsonBytes) return;
  throw new HttpError(
    413,
    'payload_too_large',
    `the JSON header of the binary body is ${length.toLocaleString('en-US')} bytes (Inference-Header-Content-Length); the limit for JSON is ${maxJsonBytes.toLocaleString('en-US')} bytes (--max-json-body-bytes)`,
    undefined,
    { connection: 'close' },
  );
}

function invalidHeader(message: string, detail: string): HttpError {
  return badRequest(message, [{ path: `header/${HEADER_LENGTH_HEADER}`, message: detail }], 'invalid_binary_header');
}
