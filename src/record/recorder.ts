/**
 * Recording from the SDK: `recordCassette(path)` gives a fetch to pass to `new Modelport({ fetch })`;
 * every /v2 call and read-only /v1 call it carries is written to the cassette as `modelport record`
 * writes it (format v1, the same header, model block and rules), and the caller gets the real
 * response: the recorder reads a clone of it. Other calls pass through unrecorded.
 */
import { bodyFromBytes, pickHeaders, RECORDED_REQUEST_HEADERS, RECORDED_RESPONSE_HEADERS, type JsonValue } from 'modelport/cassette';
import { CassetteFile } from './cassette-file';
import { credentialsOf, ModelMetadataCache } from './model-metadata';
import { readUpTo } from './read-body';
import { isRecordedCall, relativeCall, upstreamBase } from './recorded-calls';

/** A response body past this is passed to the caller whole but not recorded (as `modelport record` does). */
export const MAX_RECORDED_BODY_BYTES = 64 * 1024 * 1024;
/** How long the recorder's own reads (GET /v2 for the header, model metadata) may take. */
const OWN_READ_TIMEOUT_MS = 10_000;
const OWN_READ_MAX_BYTES = 4 * 1024 * 1024;

export interface RecordCassetteOptions {
  /**
   * The server to record, e.g. `http://127.0.0.1:8700`: calls to other URLs pass through unrecorded.
   * Default: the base URL of the first recorded call (what comes before its /v2 or /v1).
   */
  upstream?: string | undefined;
  /** The fetch that sends the calls. Default: the global fetch. */
  fetch?: typeof globalThis.fetch | undefined;
  /** Record over an existing file. Default false: an existing cassette is refused. */
  overwrite?: boolean | undefined;
}

export interface CassetteRecorder {
  /** Pass to `new Modelport({ baseUrl, fetch: recorder.fetch })`. */
  readonly fetch: typeof globalThis.fetch;
  /** The cassette's absolute path. */
  readonly path: string;
  /** Interactions written so far. */
  readonly count: number;
  /** Recorded calls that were answered but could not be recorded, and why (e.g. a response over 64 MiB). */
  readonly notRecorded: readonly string[];
  /**
   * Waits for the calls under way to be answered and written, then fsyncs and closes the file.
   * Rejects, naming the file, when a write failed. Calls made after it pass through unrecorded.
   */
  close(): Promise<void>;
}

/**
 * Opens a cassette for recording (Node only). An existing file is refused (CassetteExistsError)
 * unless `overwrite`. The header is written with the first recorded call: its upstream, and the
 * server's `GET /v2` read with that call's credentials (which are never written).
 */
export async function recordCassette(path: string, options: RecordCassetteOptions = {}): Promise<CassetteRecorder> {
  const upstream = options.upstream === undefined ? undefined : upstreamBase(options.upstream);
  const file = await CassetteFile.create(path, { overwrite: options.overwrite });
  return new FetchRecorder(file, upstream, options.fetch ?? ((input, init) => globalThis.fetch(input, init)));
}

interface Answered {
  response: Response;
  copy: Response;
}

class FetchRecorder implements CassetteRecorder {
  readonly fetch: typeof globalThis.fetch;
  readonly notRecorded: string[] = [];
  private readonly metadata: ModelMetadataCache;
  private readonly inFlight = new Set<Promise<void>>();
  private header: Promise<void> | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly file: CassetteFile,
    private upstream: string | undefined,
    private readonly send: typeof globalThis.fetch,
  ) {
    this.metadata = new ModelMetadataCache((path, credentials) => this.readJson(path, credentials));
    // async: a URL or init that fetch would reject (a relative URL, a GET with a body) rejects here too, never throws.
    this.fetch = async (input, init) => this.call(input, init);
  }

  get path(): string {
    return this.file.path;
  }

  get count(): number {
    return this.file.recorded;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.all(this.inFlight);
      if (!this.file.hasHeader) {
        const server = this.upstream === undefined ? null : await this.readJson('/v2', {});
        await this.file.writeHeader({ recorded_at: new Date().toISOString(), upstream: this.upstream ?? '', server });
      }
      await this.file.close();
      if (this.file.error) throw this.file.error;
    })();
    return this.closing;
  }

  private call(input: RequestInfo | URL, init: RequestInit | undefined): Promise<Response> {
    // What is sent is decided before anything is read: a call not recorded goes out exactly as given.
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const call = this.closing ? undefined : relativeCall(url, this.upstream);
    if (!call || !isRecordedCall(method, call.path)) return this.send(input, init);
    this.upstream ??= call.base;

    const recordedAt = new Date().toISOString();
    const started = performance.now();
    const request = new Request(input, init);
    const credentials = credentialsOf(request.headers);
    this.header ??= this.writeHeader(credentials);
    const sent = request.body ? request.clone().arrayBuffer() : Promise.resolve(new ArrayBuffer(0));
    const model = this.metadata.modelOf(call.path, credentials);
    const answered = this.send(request).then((response): Answered => ({ response, copy: response.clone() }));
    const where = `${method} ${call.path}`;
    const recording = this.recordExchange(answered, sent, model, started).then(
      (exchange) =>
        this.header!.then(() =>
          this.file.append({
            recorded_at: recordedAt,
            latency_ms: exchange.latencyMs,
            model: exchange.model,
            request: {
              method,
              path: call.path,
              query: call.query,
              headers: pickHeaders(request.headers, RECORDED_REQUEST_HEADERS),
              body: bodyFromBytes(exchange.requestBytes, request.headers),
            },
            response: {
              status: exchange.copy.status,
              headers: pickHeaders(exchange.copy.headers, RECORDED_RESPONSE_HEADERS),
              body: bodyFromBytes(exchange.responseBytes, exchange.copy.headers),
            },
          }),
        ),
      (error: unknown) => void this.notRecorded.push(`${where}: ${error instanceof Error ? error.message : String(error)}`),
    );
    this.track(recording);
    return answered.then(({ response }) => response);
  }

  /** The exchange's bytes once the response has been read to its end; rejects, saying why, when it cannot be recorded. */
  private async recordExchange(
    answered: Promise<Answered>,
    sent: Promise<ArrayBuffer>,
    model: ReturnType<ModelMetadataCache['modelOf']>,
    started: number,
  ) {
    sent.catch(() => undefined);
    let copy: Response;
    try {
      ({ copy } = await answered);
    } catch (error) {
      throw new Error(`no response (${error instanceof Error ? error.message : String(error)})`);
    }
    const responseBytes = await readUpTo(copy.body, MAX_RECORDED_BODY_BYTES).catch((error: Error) => {
      throw new Error(`the response ended early (${error.message})`);
    });
    const latencyMs = Math.round((performance.now() - started) * 100) / 100;
    if (!responseBytes) throw new Error(`its response is over ${MAX_RECORDED_BODY_BYTES / 1024 / 1024} MiB`);
    return { copy, responseBytes, requestBytes: new Uint8Array(await sent), model: await model, latencyMs };
  }

  /** The header, written once, with the first recorded call: the server's `GET /v2` is read with that call's credentials. */
  private async writeHeader(credentials: Record<string, string>): Promise<void> {
    const recordedAt = new Date().toISOString();
    const server = await this.readJson('/v2', credentials);
    await this.file.writeHeader({ recorded_at: recordedAt, upstream: this.upstream!, server });
  }

  /** `GET path` on the upstream: the JSON body of a 200, else null. These reads are the recorder's own and are not recorded. */
  private async readJson(path: string, credentials: Record<string, string>): Promise<JsonValue> {
    try {
      const response = await this.send(`${this.upstream}${path}`, {
        headers: { ...credentials, accept: 'application/json' },
        signal: AbortSignal.timeout(OWN_READ_TIMEOUT_MS),
      });
      const bytes = await readUpTo(response.body, OWN_READ_MAX_BYTES);
      if (response.status !== 200 || !bytes) return null;
      return JSON.parse(new TextDecoder().decode(bytes)) as JsonValue;
    } catch {
      return null;
    }
  }

  private track(recording: Promise<void>): void {
    this.inFlight.add(recording);
    void recording.finally(() => this.inFlight.delete(recording));
  }
}
