/**
 * The `model` of a recorded interaction: the model and version a `/v2/models/<m>[/versions/<v>]/...`
 * path names, with the upstream's metadata for them at record time. Metadata is read once per
 * (model, version) with the request's own credentials and kept; a failed read (a model still
 * loading, a 401 without a key) is tried again after a while, or at once with other credentials.
 * Shared by the SDK's recorder and `modelport record`, so both write the same model block.
 */
import { metadataPath, modelOfPath, type JsonValue, type RecordedModel } from 'modelport/cassette';

/** `GET path` on the upstream with these credentials: the JSON body of a 200, else null (never throws). */
export type ReadJson = (path: string, credentials: Record<string, string>) => Promise<JsonValue>;

/** How long a failed metadata read stands for its (model, version, credentials) before it is tried again. */
const RETRY_FAILED_AFTER_MS = 10_000;

export class ModelMetadataCache {
  private readonly found = new Map<string, Promise<JsonValue>>();
  /** When each failed (model, version, credentials) may be read again. */
  private readonly failedUntil = new Map<string, number>();

  constructor(private readonly read: ReadJson) {}

  /** The recorded model of a request path, or null when the path names none. */
  async modelOf(rawPath: string, credentials: Record<string, string>): Promise<RecordedModel | null> {
    const model = modelOfPath(rawPath);
    if (!model) return null;
    return { ...model, metadata: await this.metadata(model.name, model.version, credentials) };
  }

  private metadata(name: string, version: string | null, credentials: Record<string, string>): Promise<JsonValue> {
    const key = JSON.stringify([name, version]);
    const cached = this.found.get(key);
    if (cached) return cached;
    const failureKey = JSON.stringify([name, version, credentials.authorization ?? null, credentials['x-api-key'] ?? null]);
    if ((this.failedUntil.get(failureKey) ?? 0) > Date.now()) return Promise.resolve(null);
    const read = this.read(metadataPath({ name, version }), credentials);
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

/** The credentials among request headers (lowercased names): what the metadata and server reads are sent with. */
export function credentialsOf(headers: Headers): Record<string, string> {
  const credentials: Record<string, string> = {};
  for (const name of ['authorization', 'x-api-key']) {
    const value = headers.get(name);
    if (value !== null) credentials[name] = value;
  }
  return credentials;
}
