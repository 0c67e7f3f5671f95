/** Messages between the server and its training worker process. */
import type { components } from 'modelport';
import type { DatasetRef } from './data';

export type TrainingJobCreate = components['schemas']['TrainingJobCreate'];
export type TrainingMetrics = components['schemas']['TrainingMetrics'];

export type ToWorker =
  | { type: 'start'; request: TrainingJobCreate; dataset: DatasetRef; baseDir?: string; outDir: string; inputShape: number[] }
  | { type: 'cancel' };

export type FromWorker =
  | { type: 'started' }
  | { type: 'epoch'; epoch: number; epochs: number; metrics: TrainingMetrics; seconds: number; etaSeconds: number }
  | { type: 'done'; metrics: TrainingMetrics; epochsRun: number; seconds: number; params: number; backend: string }
  | { type: 'cancelled'; batchesAfterCancel: number }
  | { type: 'error'; message: string };
