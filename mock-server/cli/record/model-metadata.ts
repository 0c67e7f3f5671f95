/**
 * The `model` of an interaction: the model and version a `/v2/models/<m>[/versions/<v>]/...` path
 * names, with the upstream's metadata for them at record time. Metadata is read once per (model,
 * version) with the request's own auth and kept; a failed read (a model still loading, a 401
 * without a key) is tried again after a while, or at once with other auth.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import type { RecordedModel } from './cassette-format';
import type { Upstream } from './upstream';

/** How long a failed metadata read stands for its (model, version, auth) before it is tried again. */
const RETRY_FAILED_AFTER_MS = 10_000;
const MODEL_PATH = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(?:\/|$)/;

/** The model and version a raw request path names, percent-decoded; undefined for other paths. */
export function modelOfPath(rawPath: string): { name: string; version: string | null } | undefined {
  const match = MODEL_PATH.exec(rawPath);
  if (!match) return undefined;
  try {
    return { name: decodeURIComponent(match[1]!), version: match[2] === undefined ? null : decodeURIComponent(match[2]) };
  } catch {
    return undefined; // a malformed escape: the upstream will say what it thinks of the path
  }
}

export class ModelMetadataCache {
  private readonly found = new Map<string, Promise<unknown>>();
  /** When each failed (model, version, auth) may be read again. */
  private readonly failedUntil = new Map<string, number>();

  constructor(private readonly upstream: Upstream) {}

  /** The recorded model of a request path, or null when the path names none. */
  async modelOf(rawPath: string, auth: OutgoingHttpHeaders): Promise<RecordedModel | null> {
    const model = modelOfPath(rawPath);
    if (!model) return null;
    return { ...model, metadata: await this.metadata(model.name, model.version, auth) };
  }

  private metadata(name: string, version: string | null, auth: OutgoingHttpHeaders): Promise<unknown> {
    const key = JSON.stringify([name, version]);
    const cached = this.found.get(key);
    if (cached) return cached;
    const failureKey = JSON.stringify([name, version, auth.authorization ?? null, auth['x-api-key'] ?? null]);
    if ((this.failedUntil.get(failureKey) ?? 0) > Date.now()) return Promise.resolve(null);
    const path = `/v2/models/${encodeURIComponent(name)}${version === null ? '' : `/versions/${encodeURIComponent(version)}`}`;
    const read = this.upstream.getJson(path, auth);
    this.found.set(key, read);
    return read.then((metadata) => {
      if (metadata === null) {
        if (this.found.get(key) === read) this.found.delete(key);
        this.failedUntil.set(failureKey, Date.now() + RETRY_FAILED_AFTER_MS);
      }
      return metadata;
    });
  }
}
