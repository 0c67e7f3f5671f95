/**
 * What a proxy passes on: end-to-end headers as they came, hop-by-hop ones (RFC 9110 §7.6.1, and
 * whatever the Connection header names) dropped, since they describe one connection, not the message.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

export function endToEndHeaders(headers: IncomingHttpHeaders, alsoDrop: readonly string[] = []): OutgoingHttpHeaders {
  const named = String(headers.connection ?? '')
    .split(',')
    .map((token) => token.trim().toLowerCase())
    .filter(Boolean);
  const drop = new Set([...HOP_BY_HOP, ...named, ...alsoDrop]);
  const kept: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !drop.has(name)) kept[name] = value;
  return kept;
}

/**
 * The client's headers for the upstream: Host is the upstream's (Node sets it), Expect is answered
 * here (Node sends 100 Continue), and with --api-key the client's credentials give way to the key.
 */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  auth: OutgoingHttpHeaders,
  replaceAuth: boolean,
): OutgoingHttpHeaders {
  const headers = endToEndHeaders(incoming, ['host', 'expect', ...(replaceAuth ? ['authorization', 'x-api-key'] : [])]);
  return { ...headers, ...auth };
}
