/**
 * Appends a cassette's lines, one at a time, in the order exchanges finish. Each line is one
 * write() on a file opened for appending, so a killed recorder leaves whole lines only (a short
 * write, which a regular file gives only when the disk is full, is finished by a second write).
 * Lines are not fsynced one by one (a power cut may lose the last ones); the file is fsynced on close.
 */
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { cassetteLine, type CassetteHeader, type Interaction } from './cassette-format';

export type UnnumberedInteraction = Omit<Interaction, 'seq'>;

export class CassetteWriter {
  private pending: Promise<void> = Promise.resolve();
  private written = 0;
  private failure: Error | undefined;

  private constructor(
    private readonly file: FileHandle,
    readonly path: string,
  ) {}

  /**
   * Creates the file (its folder too), then writes the header line `header()` gives: an existing
   * file is refused (unless `overwrite`) before anything is asked of the upstream.
   */
  static async create(file: string, overwrite: boolean, header: () => Promise<CassetteHeader>): Promise<CassetteWriter> {
    await mkdir(path.dirname(file), { recursive: true });
    const handle = await open(file, overwrite ? 'w' : 'wx');
    const writer = new CassetteWriter(handle, file);
    try {
      await writer.writeLine(cassetteLine(await header()));
    } catch (error) {
      await handle.close();
      throw error;
    }
    return writer;
  }

  /** Interactions written so far. */
  get recorded(): number {
    return this.written;
  }

  /** The first write that failed; nothing is appended after it, so the file stays whole lines. */
  get error(): Error | undefined {
    return this.failure;
  }

  /** Queues one interaction; `seq` is its place in the file. */
  append(interaction: UnnumberedInteraction): void {
    this.pending = this.pending.then(async () => {
      if (this.failure) return;
      try {
        const { type, ...rest } = interaction;
        await this.writeLine(cassetteLine({ type, seq: this.written + 1, ...rest }));
        this.written++;
      } catch (error) {
        this.failure = error as Error;
        console.error(`modelport record: cannot write to ${this.path}, recording stopped: ${this.failure.message}`);
      }
    });
  }

  /** Waits for queued lines, then fsyncs and closes the file. */
  async close(): Promise<void> {
    await this.pending;
    try {
      await this.file.sync();
    } finally {
      await this.file.close();
    }
  }

  private async writeLine(line: string): Promise<void> {
    const bytes = Buffer.from(line, 'utf8');
    let offset = 0;
    while (offset < bytes.byteLength) offset += (await this.file.write(bytes, offset)).bytesWritten;
  }
}
