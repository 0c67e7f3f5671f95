/**
 * The server being recorded: its base URL (a path prefix kept, as behind an ingress), one
 * keep-alive agent for everything sent to it, and the JSON reads the recorder makes itself
 * (`GET /v2` for the header, model metadata for interactions).
 */
import http, { type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { JsonValue } from 'modelport/cassette';

/** How long the recorder's own reads (server and model metadata) may take. */
const OWN_READ_TIMEOUT_MS = 10_000;
/** Metadata larger than this is not JSON the recorder wants in every interaction line. */
const OWN_READ_MAX_BYTES = 4 * 1024 * 1024;

export class Upstream {
  /** The base URL as the cassette names it: no trailing slash. */
  readonly base: string;
  readonly agent: http.Agent;
  private readonly url: URL;

  constructor(text: string) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new TypeError(`--upstream '${text}' is not a URL (e.g. http://127.0.0.1:8700)`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new TypeError(`--upstream must be http:// or https://, not ${url.protocol}`);
    // A cassette names its upstream, and credentials in it would be a secret written to the file.
    if (url.username || url.password) throw new TypeError('--upstream must not carry credentials: pass the key with --api-key');
    if (url.search || url.hash) throw new TypeError('--upstream is a base URL: no query or fragment');
    this.url = url;
    this.base = url.href.replace(/\/+$/, '');
    this.agent = url.protocol === 'https:' ? new https.Agent({ keepAlive: true }) : new http.Agent({ keepAlive: true });
  }

  /** An outgoing request to `pathAndQuery` (the client's, raw) under the base URL's path. */
  request(method: string, pathAndQuery: string, headers: OutgoingHttpHeaders): http.ClientRequest {
    const send = this.url.protocol === 'https:' ? https.request : http.request;
    return send({
      protocol: this.url.protocol,
      hostname: this.url.hostname,
      port: this.url.port,
      method,
      path: `${this.url.pathname.replace(/\/+$/, '')}${pathAndQuery}`,
      headers,
      agent: this.agent,
    });
  }

  /** `GET path` parsed as JSON when it answers 200 with JSON; null for anything else (a failure is not the recorder's to report). */
  getJson(path: string, headers: OutgoingHttpHeaders): Promise<JsonValue> {
    return new Promise((resolve) => {
      const request = this.request('GET', path, { ...headers, accept: 'application/json' });
      request.setTimeout(OWN_READ_TIMEOUT_MS, () => request.destroy(new Error('timed out')));
      request.on('error', () => resolve(null));
      request.on('response', (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.byteLength;
          if (size > OWN_READ_MAX_BYTES) request.destroy(new Error('too large'));
          else chunks.push(chunk);
        });
        response.on('error', () => resolve(null));
        response.on('end', () => resolve(response.statusCode === 200 ? parseJson(Buffer.concat(chunks)) : null));
        response.on('close', () => resolve(null)); // after 'end', or cut short: a no-op once resolved
      });
      request.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

function parseJson(bytes: Buffer): JsonValue {
  try {
    return JSON.parse(bytes.toString('utf8')) as JsonValue;
  } catch {
    return null;
  }
}

/** The auth headers of a request as forwarded: the client's, or `Bearer <apiKey>` in place of them. */
export function forwardedAuth(incoming: IncomingHttpHeaders, apiKey: string | undefined): Record<string, string> {
  if (apiKey !== undefined) return { authorization: `Bearer ${apiKey}` };
  const auth: Record<string, string> = {};
  if (incoming.authorization !== undefined) auth.authorization = incoming.authorization;
  const apiKeyHeader = incoming['x-api-key'];
  if (apiKeyHeader !== undefined) auth['x-api-key'] = Array.isArray(apiKeyHeader) ? apiKeyHeader.join(', ') : apiKeyHeader;
  return auth;
}
