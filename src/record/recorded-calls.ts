/**
 * Which calls a cassette records, the same rule as `modelport record`: every method under /v2 (the
 * Open Inference Protocol), GET and HEAD under /v1 (modelport's control plane, read-only). A
 * recorder replays nothing that trains, deletes or mints keys, so those are never written.
 */

/** Whether `method rawPath` (a path relative to the upstream, query excluded) is recorded. */
export function isRecordedCall(method: string, rawPath: string): boolean {
  if (under('/v2', rawPath)) return true;
  return under('/v1', rawPath) && (method === 'GET' || method === 'HEAD');
}

function under(prefix: string, rawPath: string): boolean {
  return rawPath === prefix || rawPath.startsWith(`${prefix}/`);
}

/** An upstream base URL as a cassette names it: no trailing slash, no query, no fragment, no credentials. */
export function upstreamBase(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(`upstream '${url}' is not a URL (e.g. http://127.0.0.1:8700)`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new TypeError(`upstream must be http:// or https://, not ${parsed.protocol}`);
  // A cassette names its upstream, and credentials in it would be a secret written to the file.
  if (parsed.username || parsed.password) throw new TypeError('upstream must not carry credentials: they would be written to the cassette');
  if (parsed.search || parsed.hash) throw new TypeError(`upstream is a base URL: no query or fragment (${url})`);
  return parsed.href.replace(/\/+$/, '');
}

/**
 * A call's path relative to `base` (an upstream base URL), or undefined when the URL is not under it.
 * Without a base, the base is what comes before the URL's first /v2 or /v1 segment (as the SDK builds
 * `${baseUrl}/v2/...`).
 */
export function relativeCall(url: URL, base: string | undefined): { base: string; path: string; query: string } | undefined {
  const query = url.search.slice(1);
  if (base === undefined) {
    const found = /^(.*?)\/v[12](?:\/|$)/.exec(url.pathname);
    if (!found) return undefined;
    return { base: `${url.origin}${found[1]}`, path: url.pathname.slice(found[1]!.length), query };
  }
  const basePath = new URL(base).pathname.replace(/\/+$/, '');
  if (url.origin !== new URL(base).origin || !url.pathname.startsWith(`${basePath}/`)) return undefined;
  return { base, path: url.pathname.slice(basePath.length), query };
}
