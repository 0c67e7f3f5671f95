/**
 * Request bodies are read as they are sent: the server decodes no compression, so a compressed
 * body is refused before a byte of it is read (decoding it would open a new kind of bomb, a few
 * KiB that inflate to gigabytes, past every body limit). Only the chunked transfer coding is
 * understood (Node removes it); any other transfer coding (`gzip, chunked`), and any content coding
 * but `identity` (tritonclient's `request_compression_algorithm` sends `Content-Encoding: gzip` or
 * `deflate`), is a 415 `unsupported_encoding`, with `Accept-Encoding: identity` as RFC 9110 asks.
 * (RFC 9112 suggests 501 for an unknown transfer coding; one status for both keeps the contract's
 * 415, which every operation with a body declares.)
 */
import { HttpError } from './errors';
import type { HeaderBag } from './request';

const TRANSFER_CODINGS_READ = new Set(['chunked']);
const CONTENT_CODINGS_READ = new Set(['identity']);

export function checkBodyCodings(headers: HeaderBag): void {
  const transfer = unreadCodings(headers.get('transfer-encoding'), TRANSFER_CODINGS_READ);
  if (transfer) throw unsupportedEncoding('Transfer-Encoding', transfer, 'only chunked is read');
  const content = unreadCodings(headers.get('content-encoding'), CONTENT_CODINGS_READ);
  if (content) throw unsupportedEncoding('Content-Encoding', content, 'send it uncompressed');
}

/** The header's value when it names a coding outside `read`, else undefined. */
function unreadCodings(value: string | null, read: Set<string>): string | undefined {
  if (value === null) return undefined;
  const codings = value.split(',').map((coding) => coding.trim().toLowerCase());
  return codings.some((coding) => coding !== '' && !read.has(coding)) ? value : undefined;
}

function unsupportedEncoding(header: string, value: string, advice: string): HttpError {
  return new HttpError(
    415,
    'unsupported_encoding',
    `the request body's ${header} '${value}' is not supported: the server decodes no compression (${advice})`,
    [{ path: `header/${header.toLowerCase()}`, message: `is '${value}'; the server reads identity bodies only` }],
    { 'accept-encoding': 'identity' },
  );
}
