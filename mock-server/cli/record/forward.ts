/**
 * One exchange through the proxy: the client's body streamed to the upstream and the upstream's
 * answer streamed back as it comes (status, end-to-end headers, bytes unchanged), each side's
 * bytes kept for the cassette. Backpressure holds both ways: a slow reader pauses the sender.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { endToEndHeaders, upstreamRequestHeaders } from './forward-headers';
import { answerError } from './proxy-routes';
import { forwardedAuth, type Upstream } from './upstream';

export interface ForwardOptions {
  upstream: Upstream;
  apiKey: string | undefined;
  /** A request body past this is answered 413 and the upstream request aborted. */
  maxRequestBytes: number;
  /** A response body past this is still forwarded whole, but not kept (`body` is undefined). */
  maxRecordedResponseBytes: number;
}

export interface Forwarded {
  requestBody: Buffer;
  response: IncomingMessage;
  /** Undefined when the response was too large to record. */
  responseBody: Buffer | undefined;
  /** From the request's arrival to the upstream's last byte. */
  latencyMs: number;
}

/** Forwards `req`; resolves with what was exchanged once the upstream's answer is complete, or undefined if it never was. */
export function forward(req: IncomingMessage, res: ServerResponse, options: ForwardOptions): Promise<Forwarded | undefined> {
  const { upstream, apiKey, maxRequestBytes, maxRecordedResponseBytes } = options;
  const started = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const settle = (forwarded: Forwarded | undefined) => {
      if (!settled) resolve(forwarded);
      settled = true;
    };
    const headers = upstreamRequestHeaders(req.headers, forwardedAuth(req.headers, apiKey), apiKey !== undefined);
    const outgoing = upstream.request(req.method!, req.url!, headers);
    const fail = (status: number, error: string) => {
      if (settled) return;
      outgoing.destroy();
      if (res.headersSent) res.destroy();
      else answerError(req, res, status, error);
      settle(undefined);
    };
    /** The client is gone: nobody to answer, nothing to record. */
    const abandon = () => {
      outgoing.destroy();
      settle(undefined);
    };

    const requestChunks: Buffer[] = [];
    let requestBytes = 0;
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      requestBytes += chunk.byteLength;
      if (requestBytes > maxRequestBytes) return fail(413, tooLarge(maxRequestBytes));
      requestChunks.push(chunk);
      if (!outgoing.write(chunk)) req.pause();
    });
    outgoing.on('drain', () => req.resume());
    req.on('end', () => {
      if (!settled) outgoing.end();
    });
    req.on('close', () => {
      if (!req.complete) abandon();
    });
    res.on('close', () => {
      if (!res.writableFinished) abandon();
    });
    outgoing.on('error', (error: NodeJS.ErrnoException) =>
      fail(502, `the upstream ${upstream.base} did not answer: ${error.code ?? ''} ${error.message}`.replace(/\s+/g, ' ')),
    );

    outgoing.on('response', (response) => {
      res.writeHead(response.statusCode!, response.statusMessage, endToEndHeaders(response.headers));
      let responseChunks: Buffer[] | undefined = [];
      let responseBytes = 0;
      response.on('data', (chunk: Buffer) => {
        responseBytes += chunk.byteLength;
        if (responseBytes > maxRecordedResponseBytes) responseChunks = undefined;
        responseChunks?.push(chunk);
        if (!res.write(chunk)) response.pause();
      });
      res.on('drain', () => response.resume());
      response.on('end', () => {
        const latencyMs = Math.round((performance.now() - started) * 100) / 100;
        res.end();
        const responseBody = responseChunks && Buffer.concat(responseChunks);
        settle({ requestBody: Buffer.concat(requestChunks), response, responseBody, latencyMs });
      });
      response.on('close', () => {
        if (!response.complete) fail(502, `the upstream ${upstream.base} closed the connection mid-answer`);
      });
    });
  });
}

export function tooLarge(limit: number): string {
  return `modelport record takes request bodies up to ${limit / 1024 / 1024} MiB; this one is larger and was not forwarded`;
}
