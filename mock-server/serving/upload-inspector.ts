/**
 * Accepting a new version, on the server's side: the upload's body goes to a file, a child
 * process unpacks, checks and test-loads it within the limits (inspection-process.ts), and only a
 * model that process loaded is then loaded here for serving. The server itself never inflates an
 * archive nor parses a SavedModel's protobuf before that. Inspections run a few at a time, so a
 * burst of uploads queues rather than starting one TensorFlow process each.
 */
import { rm, writeFile } from 'node:fs/promises';
import { badRequest } from '../http/errors';
import type { ExpansionLimits } from '../registry/expansion-budget';
import type { ModelConfig } from '../registry/model-config';
import type { Runtime } from '../runtime/backend';
import { type LoadedModel, loadModel } from '../runtime/loader';
import { type Accepted, InspectionProcesses, type SupervisionLimits } from './inspection-process';
import type { InspectedInfo } from './upload-inspection';
import type { UploadMetadata } from './upload-metadata';

export interface InspectionLimits extends SupervisionLimits, ExpansionLimits {
  /** Inspections running at once; more wait their turn (their timeout starts when they start). */
  concurrency: number;
  /** Skip the SavedModel op allowlist (--trust-models). */
  trusted: boolean;
  /** The longest an upload's test-load may take: serving loads it again on the event loop (--max-model-load-seconds). */
  maxLoadMs: number;
}

/** The defaults of `modelport serve` (--upload-inspection-timeout, --upload-inspection-memory, --max-upload-expansion, --upload-inspections). */
export const DEFAULT_INSPECTION_LIMITS: InspectionLimits = {
  timeoutMs: 60_000,
  memoryMb: 2048,
  maxExpandedBytes: 4 * 512 * 1024 * 1024,
  maxRatio: 100,
  concurrency: 2,
  trusted: false,
  maxLoadMs: 10_000,
};

export interface RawUpload {
  body: Uint8Array;
  mediaType: string;
  contentType: string;
}

export interface AcceptedVersion {
  info: InspectedInfo & { metrics?: UploadMetadata['metrics'] };
  /** The model loaded for serving, from the staging folder. */
  loaded: LoadedModel;
  /** How the inspection went, for the log and the benchmarks. */
  inspection: Pick<Accepted, 'timings' | 'peakRssMb'>;
}

export class UploadInspector {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly processes: InspectionProcesses;

  /** `keepSpare`: keep a process started for the next upload once uploads arrive (the server's; not a one-off's). */
  constructor(
    private readonly runtime: Runtime,
    readonly limits: InspectionLimits,
    { keepSpare = true }: { keepSpare?: boolean } = {},
  ) {
    this.processes = new InspectionProcesses(limits, runtime.backend, keepSpare);
  }

  /** Stops the spare process; the server is closing. */
  close(): void {
    this.processes.close();
  }

  /**
   * Checks the upload into `staged` (empty when `upload` is given: it is unpacked there; else it
   * holds a model the server wrote) and loads it for serving. Throws the refusal as an HttpError.
   */
  async accept(staged: string, model: ModelConfig, upload?: RawUpload): Promise<AcceptedVersion> {
    const bodyFile = `${staged}.body`; // a .tmp- sibling: swept at start if a kill leaves it
    if (upload) await writeFile(bodyFile, upload.body);
    let accepted: Accepted;
    try {
      accepted = await this.inTurn(() =>
        this.processes.run({
          type: 'inspect',
          dir: staged,
          ...(upload ? { source: { bodyFile, mediaType: upload.mediaType, contentType: upload.contentType } } : {}),
          model,
          limits: { maxExpandedBytes: this.limits.maxExpandedBytes, maxRatio: this.limits.maxRatio },
          trusted: this.limits.trusted,
          maxLoadMs: this.limits.maxLoadMs,
        }),
      );
    } finally {
      if (upload) await rm(bodyFile, { force: true });
    }
    const { info } = accepted;
    let loaded: LoadedModel;
    try {
      loaded = await loadModel(
        this.runtime,
        { ...model, platform: info.platform, inputs: info.inputs, outputs: info.outputs, info: { ...info, version: 0 } },
        staged,
      );
    } catch (error) {
      throw badRequest(`the model does not load: ${(error as Error).message}`, undefined, 'invalid_model');
    }
    return {
      info: { ...info, ...(accepted.metrics ? { metrics: accepted.metrics } : {}) },
      loaded,
      inspection: { timings: accepted.timings, peakRssMb: accepted.peakRssMb },
    };
  }

  private async inTurn<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.limits.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running += 1;
    try {
      return await work();
    } finally {
      this.running -= 1;
      this.waiting.shift()?.();
    }
  }
}
