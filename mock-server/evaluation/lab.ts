/**
 * The evaluation room of one server: its datasets, its evaluation jobs, and the queue that keeps
 * their measurements (and selections') from overlapping. It hangs from the server's state
 * (server/state.ts) and is opened on the first request that needs it, from the server's data
 * dir; that is also when jobs a previous process left running are marked interrupted.
 */
import { DatasetStore } from '../datasets/datasets';
import type { ModelManager } from '../serving/version-service';
import type { QueueCaps } from '../jobs/queue-limit';
import { MeasurementQueue } from './engine';
import { EvaluationJobs } from './jobs';

/** Evaluations queued or running: 64 on the server, 8 per API key (each measures every sample of its dataset). */
export const DEFAULT_EVALUATION_CAPS: QueueCaps = { all: 64, perKey: 8 };

export interface Lab {
  datasets: DatasetStore;
  jobs: EvaluationJobs;
  measurements: MeasurementQueue;
}

export class EvaluationLab {
  private opened: Promise<Lab> | undefined;

  constructor(
    private readonly dataDir: string,
    private readonly models: ModelManager,
    /** How many evaluations may be queued or running, per key and in all. */
    private readonly caps: QueueCaps,
  ) {}

  open(): Promise<Lab> {
    if (!this.opened) {
      const opening = this.openNow();
      this.opened = opening;
      // A failed open (a broken data dir) is retried by the next request rather than cached.
      opening.catch(() => {
        if (this.opened === opening) this.opened = undefined;
      });
    }
    return this.opened;
  }

  /** Deletes uploaded datasets and every evaluation (the test controls' reset: back to a fresh server). */
  async reset(): Promise<void> {
    const lab = await this.open();
    await lab.jobs.reset();
    await lab.datasets.reset();
  }

  private async openNow(): Promise<Lab> {
    const measurements = new MeasurementQueue();
    const datasets = await DatasetStore.open(this.dataDir);
    const jobs = await EvaluationJobs.open(this.dataDir, this.models, datasets, measurements, this.caps);
    return { datasets, jobs, measurements };
  }
}
