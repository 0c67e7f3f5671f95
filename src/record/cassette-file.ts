/**
 * A cassette file being recorded (format v1, ../cassette/format.ts), shared by the SDK's recorder
 * and `modelport record`. Each line is one write() on a file opened for appending, in the order
 * exchanges finish, so a killed recorder leaves whole lines only (a short write, which a regular file
 * gives only when the disk is full, is finished by a second write). Lines are not fsynced one by one
 * (a power cut may lose the last ones); the file is fsynced on close.
 */
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { ModelportError } from 'modelport';
import { serializeHeader, serializeInteraction, type CassetteHeader, type Interaction } from 'modelport/cassette';

/** A header as the recorder knows it: the format's own fields are filled in. */
export type HeaderFields = Omit<CassetteHeader, 'cassette' | 'version'>;
/** An interaction before it is numbered: `seq` is its place in the file. */
export type UnnumberedInteraction = Omit<Interaction, 'type' | 'seq'>;

/** `path` exists and overwriting was not asked for. */
export class CassetteExistsError extends ModelportError {
  override name = 'CassetteExistsError';
  readonly code = 'EEXIST';
  constructor(readonly path: string) {
    super(`${path} exists: pass overwrite: true to record over it, or name another cassette`);
  }
}

export interface CassetteFileOptions {
  /** Record over an existing file. Default false: an existing file is refused (CassetteExistsError). */
  overwrite?: boolean | undefined;
  /** Told once, on the first write that fails (recording stops there). */
  onWriteError?: ((error: Error) => void) | undefined;
}

export class CassetteFile {
  private pending: Promise<void> = Promise.resolve();
  private headerQueued = false;
  private written = 0;
  private failure: Error | undefined;
  private closed: Promise<void> | undefined;

  private constructor(
    private readonly handle: FileHandle,
    readonly path: string,
    private readonly onWriteError: ((error: Error) => void) | undefined,
  ) {}

  /** Creates the file (its folder too); nothing is written yet. An existing file is refused unless `overwrite`. */
  static async create(file: string, options: CassetteFileOptions = {}): Promise<CassetteFile> {
    const absolute = path.resolve(file);
    await mkdir(path.dirname(absolute), { recursive: true });
    const handle = await open(absolute, options.overwrite ? 'w' : 'wx').catch((error: NodeJS.ErrnoException) => {
      throw error.code === 'EEXIST' ? new CassetteExistsError(absolute) : error;
    });
    return new CassetteFile(handle, absolute, options.onWriteError);
  }

  /** Interactions written so far. */
  get recorded(): number {
    return this.written;
  }

  /** Whether the header has been queued (it is written before any interaction). */
  get hasHeader(): boolean {
    return this.headerQueued;
  }

  /** The first write that failed, naming the file; nothing is appended after it, so the file stays whole lines. */
  get error(): Error | undefined {
    return this.failure;
  }

  /** Queues the header line; it must come first, once. */
  writeHeader(header: HeaderFields): Promise<void> {
    if (this.headerQueued) throw new Error(`${this.path}: the cassette header is written once, first`);
    this.headerQueued = true;
    return this.enqueue(() => this.writeLine(serializeHeader(header)));
  }

  /** Queues one interaction; resolves once it is written (or the file has failed: see `error`). */
  append(interaction: UnnumberedInteraction): Promise<void> {
    if (!this.headerQueued) throw new Error(`${this.path}: the cassette header is written before any interaction`);
    return this.enqueue(async () => {
      await this.writeLine(serializeInteraction({ ...interaction, seq: this.written + 1 }));
      this.written++;
    });
  }

  /** Waits for queued lines, then fsyncs and closes the file. A failed fsync is the file's `error`, like a failed write. */
  close(): Promise<void> {
    this.closed ??= (async () => {
      await this.pending;
      try {
        if (!this.failure) await this.handle.sync();
      } catch (error) {
        this.failure = cannotWrite(this.path, error);
      } finally {
        await this.handle.close();
      }
    })();
    return this.closed;
  }

  private enqueue(write: () => Promise<void>): Promise<void> {
    this.pending = this.pending.then(async () => {
      if (this.failure) return;
      try {
        await write();
      } catch (error) {
        this.failure = cannotWrite(this.path, error);
        this.onWriteError?.(this.failure);
      }
    });
    return this.pending;
  }

  private async writeLine(line: string): Promise<void> {
    const bytes = new TextEncoder().encode(line);
    let offset = 0;
    while (offset < bytes.byteLength) offset += (await this.handle.write(bytes, offset)).bytesWritten;
  }
}

function cannotWrite(file: string, error: unknown): Error {
  const reason = error instanceof Error ? error.message : String(error);
  return new Error(`cannot write the cassette ${file}: ${reason}`, { cause: error });
}
