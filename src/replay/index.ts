/**
 * `modelport/replay`: msw handlers that answer Open Inference Protocol calls from a cassette, with
 * no model server and no TensorFlow, in Node (`msw/node`'s setupServer) and in a browser
 * (`msw/browser`'s setupWorker). msw is an optional peer dependency: only this entry imports it.
 *
 *   const server = setupServer(...replayHandlers(readFileSync('predictions.cassette.jsonl', 'utf8')));
 *
 * Matching, the replay headers and the order of several recordings of one request are
 * createReplayer's (src/cassette/replayer.ts).
 */
import { http, type HttpHandler } from 'msw';
import { createReplayer, type Cassette, type ReplayOptions } from 'modelport/cassette';

export {
  createReplayer,
  REPLAY_HEADER,
  REPLAY_NEAREST_HEADER,
  REPLAY_SEQ_HEADER,
  type ReplayOptions,
  type Replayer,
} from 'modelport/cassette';

export interface ReplayHandlersOptions extends ReplayOptions {
  /**
   * Answer only calls to this server (e.g. 'http://127.0.0.1:8700', or 'https://ml.example.com/serving'
   * where the recorded paths follow '/serving'). Without it, /v2 and /v1 calls to any origin are answered.
   */
  baseUrl?: string | undefined;
}

/**
 * Handlers for /v2 (and everything under it) and /v1/*: each call is answered by the cassette's
 * recording (a parsed Cassette, or a cassette file's text), or by a 404 naming the closest one.
 * The handlers share one replayer, so several recordings of one request answer in order.
 */
export function replayHandlers(cassette: Cassette | string, options: ReplayHandlersOptions = {}): HttpHandler[] {
  const { baseUrl, ...replayOptions } = options;
  const replayer = createReplayer(cassette, replayOptions);
  const prefix = baseUrl === undefined ? undefined : basePrefix(baseUrl);
  const calls =
    prefix === undefined
      ? /^[a-z][a-z\d+.-]*:\/\/[^/]+\/v(?:2(?:\/.*)?|1\/.*)$/i
      : new RegExp(`^${escapeRegExp(prefix.origin + prefix.path)}/v(?:2(?:/.*)?|1/.*)$`);
  return [
    http.all(calls, ({ request }) => {
      if (!prefix?.path) return replayer.respond(request);
      // The cassette recorded the paths after the base URL's own path.
      const url = new URL(request.url);
      url.pathname = url.pathname.slice(prefix.path.length);
      return replayer.respond(new Request(url, request));
    }),
  ];
}

/** The origin, and the path without its trailing slash ('' for none). */
function basePrefix(baseUrl: string): { origin: string; path: string } {
  const url = new URL(baseUrl);
  return { origin: url.origin, path: url.pathname.replace(/\/+$/, '') };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
