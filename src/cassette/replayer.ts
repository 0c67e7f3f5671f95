/**
 * Replay: a Fetch `Request` answered from a cassette, with no server and no TensorFlow. The same
 * core serves msw (`modelport/replay`, Node and browser service worker) and `modelport serve --replay`.
 *
 * Which recording answers is `matchRequest`'s (match.ts): tensors within rtol/atol for infer calls,
 * the exact method, path, query and body for everything else (metadata, ready, health, read-only /v1).
 * The answer is the recording's status, its recorded headers and its body's bytes (`bytesOfBody`: a
 * base64 body byte for byte, a JSON body as its JSON text), plus these headers:
 *   modelport-replay: matched | nearest | unmatched
 *   modelport-replay-seq: <seq of the recording answering>
 *   modelport-replay-nearest: <how the request differs from it> (mode 'nearest' only; ASCII, "max |delta|" for max |Δ|)
 * A request no recording answers gets 404 `{"error": "<which recording is closest and how it differs>"}`.
 *
 * Several recordings of one request (say GET /v2/health/ready answered 503, then 200) play in order:
 * the k-th time a request is answered by that recorded request, the k-th of its recordings (by seq)
 * answers; after the last, the last repeats. "That recorded request" is the same method, path, query
 * and body, so a perturbed input within tolerance advances the same sequence as the exact one. Each
 * replayer keeps its own positions: create a new one (or new msw handlers) to start over.
 *
 * No `node:` import and no Buffer: this runs in browsers.
 */
import { HEADER_LENGTH_HEADER } from 'modelport';
import { bytesOfBody, parseCassette, type Body, type Cassette, type Interaction, type RecordedRequest } from './format';
import { matchRequest, type MatchOptions } from './match';

export interface ReplayOptions extends MatchOptions {}

export interface Replayer {
  readonly cassette: Cassette;
  /** The recorded answer to `request` (its path is taken from the URL's pathname, whatever the origin). */
  respond(request: Request): Promise<Response>;
}

export const REPLAY_HEADER = 'modelport-replay';
export const REPLAY_SEQ_HEADER = 'modelport-replay-seq';
export const REPLAY_NEAREST_HEADER = 'modelport-replay-nearest';

/** Header values stay well under the 8-16 KiB that HTTP clients accept for all headers together. */
const MAX_NEAREST_HEADER_CHARS = 2000;
/** Statuses whose Fetch Response may have no body. */
const NULL_BODY_STATUSES = new Set([204, 205, 304]);

/** `cassette` is a parsed cassette or a cassette file's text (parsed here; a CassetteFormatError names a bad line). */
export function createReplayer(cassette: Cassette | string, options: ReplayOptions = {}): Replayer {
  const parsed = typeof cassette === 'string' ? parseCassette(cassette) : cassette;
  const sequences = new RecordingSequences(parsed);
  return {
    cassette: parsed,
    async respond(request: Request): Promise<Response> {
      const url = new URL(request.url);
      const body = request.method === 'GET' || request.method === 'HEAD' ? null : new Uint8Array(await request.arrayBuffer());
      const result = matchRequest(
        parsed,
        { method: request.method, path: url.pathname, query: url.search.slice(1), headers: request.headers, body },
        options,
      );
      if (result.outcome === 'unmatched') {
        return new Response(JSON.stringify({ error: result.error }), {
          status: 404,
          headers: { 'content-type': 'application/json', [REPLAY_HEADER]: 'unmatched' },
        });
      }
      const answering = sequences.next(result.interaction);
      const replayHeaders: Record<string, string> = { [REPLAY_HEADER]: result.outcome, [REPLAY_SEQ_HEADER]: String(answering.seq) };
      if (result.outcome === 'nearest') replayHeaders[REPLAY_NEAREST_HEADER] = asciiHeaderValue(result.description);
      return recordedResponse(answering, request.method, replayHeaders);
    },
  };
}

/** Where each recorded request is in its list of recordings (see the sequence rule at the top). */
class RecordingSequences {
  private readonly recordingsOf = new Map<Interaction, Interaction[]>();
  private readonly answered = new Map<Interaction[], number>();

  constructor(private readonly cassette: Cassette) {}

  /** The recording that answers now, given the one the match chose; moves its request's position on. */
  next(chosen: Interaction): Interaction {
    const recordings = this.recordingsOfRequest(chosen);
    const count = this.answered.get(recordings) ?? 0;
    this.answered.set(recordings, count + 1);
    return recordings[Math.min(count, recordings.length - 1)]!;
  }

  /** Every recording of the same request as `chosen`, by seq; found once per request, on first use. */
  private recordingsOfRequest(chosen: Interaction): Interaction[] {
    let recordings = this.recordingsOf.get(chosen);
    if (recordings) return recordings;
    recordings = this.cassette.interactions
      .filter((interaction) => sameRequest(interaction.request, chosen.request))
      .sort((a, b) => a.seq - b.seq);
    for (const interaction of recordings) this.recordingsOf.set(interaction, recordings);
    return recordings;
  }
}

function sameRequest(a: RecordedRequest, b: RecordedRequest): boolean {
  return (
    a.method.toUpperCase() === b.method.toUpperCase() &&
    a.path === b.path &&
    a.query === b.query &&
    a.headers[HEADER_LENGTH_HEADER] === b.headers[HEADER_LENGTH_HEADER] &&
    bodyText(a.body) === bodyText(b.body)
  );
}

// A JSON body's text is made once per body object, not once per comparison.
const bodyTexts = /* @__PURE__ */ new WeakMap<Body, string>();

function bodyText(body: Body | null): string {
  if (body === null) return '';
  if ('base64' in body) return `base64:${body.base64}`;
  let text = bodyTexts.get(body);
  if (text === undefined) bodyTexts.set(body, (text = `json:${JSON.stringify(body.json)}`));
  return text;
}

function recordedResponse(interaction: Interaction, method: string, replayHeaders: Record<string, string>): Response {
  const { status, headers, body } = interaction.response;
  // A Response carries 200-599 only; the proxy records final statuses, but a cassette may be edited by hand.
  if (!(status >= 200 && status <= 599)) {
    const error = `cassette seq ${interaction.seq} recorded status ${status}; a replayed answer can only carry 200-599`;
    return new Response(JSON.stringify({ error }), { status: 500, headers: { 'content-type': 'application/json', ...replayHeaders } });
  }
  const noBody = method === 'HEAD' || NULL_BODY_STATUSES.has(status);
  // bytesOfBody makes a new array on its own ArrayBuffer, never a SharedArrayBuffer.
  return new Response(noBody ? null : (bytesOfBody(body) as Uint8Array<ArrayBuffer>), {
    status,
    headers: { ...headers, ...replayHeaders },
  });
}

/**
 * A header value is Latin-1 at best and ASCII in practice: Δ and × are spelled out, any other
 * character outside printable ASCII becomes \uXXXX, and a long description is cut.
 */
export function asciiHeaderValue(text: string): string {
  const ascii = text
    .replace(/Δ/g, 'delta')
    .replace(/×/g, 'x')
    .replace(/[^\x20-\x7e]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return ascii.length > MAX_NEAREST_HEADER_CHARS ? `${ascii.slice(0, MAX_NEAREST_HEADER_CHARS - 3)}...` : ascii;
}
