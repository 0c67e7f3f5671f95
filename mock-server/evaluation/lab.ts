/**
 * The evaluation room of one server: its datasets, its evaluation jobs, and the bench that keeps
 * their measurements (and selections') from overlapping. Opened on the first request that needs
 * it, from the server's data dir; that is also when jobs a previous process left running are
 * marked interrupted.
 */
import type { ServerState } from '../http/context';
import { DatasetStore } from '../datasets/datasets';
import { Bench } from './engine';
import { EvaluationJobs } from './jobs';

export interface Lab {
  datasets: DatasetStore;
  jobs: EvaluationJobs;
  bench: Bench;
}

const labs = new WeakMap<ServerState, Promise<Lab>>();

export function labOf(state: ServerState): Promise<Lab> {
  let lab = labs.get(state);
  if (!lab) {
    lab = open(state);
    labs.set(state, lab);
    // A failed open (a broken data dir) is retried by the next request rather than cached.
    lab.catch(() => labs.delete(state));
  }
  return lab;
}

async function open(state: ServerState): Promise<Lab> {
  const dataDir = state.models.repository.dataDir;
  const bench = new Bench();
  const datasets = await DatasetStore.open(dataDir);
  const jobs = await EvaluationJobs.open(dataDir, state.models, datasets, bench);
  return { datasets, jobs, bench };
}

/** Deletes uploaded datasets and every evaluation (the test controls' reset: back to a fresh server). */
export async function resetLab(state: ServerState): Promise<void> {
  const lab = await labOf(state);
  await lab.jobs.reset();
  await lab.datasets.reset();
}
