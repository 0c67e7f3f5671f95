/**
 * The recording proxy: a node:http server on 127.0.0.1 that forwards what proxy-routes.ts allows
 * to the upstream and hands each complete exchange, as a cassette interaction, to `record`.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { bodyFromBytes, pickHeaders, RECORDED_REQUEST_HEADERS, RECORDED_RESPONSE_HEADERS } from 'modelport/cassette';
import { ModelMetadataCache, type UnnumberedInteraction } from 'modelport/record';
import { forward, tooLarge } from './forward';
import { answerError, refusalOf } from './proxy-routes';
import { forwardedAuth, type Upstream } from './upstream';

/** Request bodies past this are refused (413), and response bodies past it are forwarded but not recorded. */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

export interface RecordingProxyOptions {
  upstream: Upstream;
  /** Sent as `Authorization: Bearer <apiKey>` in place of the client's credentials. */
  apiKey: string | undefined;
  record(interaction: UnnumberedInteraction): void;
  /** An exchange forwarded whole but not recorded, and why. */
  notRecorded(why: string): void;
}

export class RecordingProxy {
  private readonly server: Server;
  private readonly metadata: ModelMetadataCache;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(private readonly options: RecordingProxyOptions) {
    this.metadata = new ModelMetadataCache((path, credentials) => options.upstream.getJson(path, credentials));
    this.server = createServer((req, res) => {
      const exchange = this.exchange(req, res).catch((error: Error) => {
        console.error(`modelport record: ${req.method} ${req.url} failed in the proxy: ${error.stack ?? error.message}`);
        res.destroy();
      });
      this.inFlight.add(exchange);
      void exchange.finally(() => this.inFlight.delete(exchange));
    });
  }

  /** Listens on 127.0.0.1; resolves with the port (a free one for 0). */
  listen(port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve((this.server.address() as AddressInfo).port));
    });
  }

  /**
   * Stops taking connections, lets exchanges under way finish (and be recorded) for up to
   * `graceMs`, then cuts what is left: a stream that never ends must not hold the recorder open.
   */
  async close(graceMs: number): Promise<void> {
    const closed = new Promise((resolve) => this.server.close(resolve));
    this.server.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise((resolve) => (timer = setTimeout(resolve, graceMs)));
    await Promise.race([Promise.all(this.inFlight), grace]);
    clearTimeout(timer);
    this.server.closeAllConnections();
    await Promise.all([closed, ...this.inFlight]);
    this.options.upstream.close();
  }

  private async exchange(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const recordedAt = new Date().toISOString();
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const [rawPath, query] = queryAt < 0 ? [url, ''] : [url.slice(0, queryAt), url.slice(queryAt + 1)];
    const method = req.method ?? 'GET';
    const refusal = refusalOf(method, rawPath);
    if (refusal) return answerError(req, res, refusal.status, refusal.error, refusal.headers);
    if (Number(req.headers['content-length'] ?? 0) > MAX_BODY_BYTES) return answerError(req, res, 413, tooLarge(MAX_BODY_BYTES));

    const { upstream, apiKey } = this.options;
    const [model, forwarded] = await Promise.all([
      this.metadata.modelOf(rawPath, forwardedAuth(req.headers, apiKey)),
      forward(req, res, { upstream, apiKey, maxRequestBytes: MAX_BODY_BYTES, maxRecordedResponseBytes: MAX_BODY_BYTES }),
    ]);
    if (!forwarded) return;
    const { requestBody, response, responseBody, latencyMs } = forwarded;
    if (!responseBody) return this.options.notRecorded(`${method} ${rawPath}: its response is over ${MAX_BODY_BYTES / 1024 / 1024} MiB`);
    this.options.record({
      recorded_at: recordedAt,
      latency_ms: latencyMs,
      model,
      request: {
        method,
        path: rawPath,
        query,
        headers: pickHeaders(plainHeaders(req.headers), RECORDED_REQUEST_HEADERS),
        body: bodyFromBytes(requestBody, plainHeaders(req.headers)),
      },
      response: {
        status: response.statusCode!,
        headers: pickHeaders(plainHeaders(response.headers), RECORDED_RESPONSE_HEADERS),
        body: bodyFromBytes(responseBody, plainHeaders(response.headers)),
      },
    });
  }
}

/** Node's headers as the cassette's functions take them: a repeated header joined as Node joins most (`, `). */
function plainHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const plain: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers))
    if (value !== undefined) plain[name] = Array.isArray(value) ? value.join(', ') : value;
  return plain;
}
