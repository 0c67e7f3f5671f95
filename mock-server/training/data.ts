/**
 * Training data for jobs: a reference the worker process resolves by itself (so no large arrays
 * cross the process boundary), to the same built-in and uploaded datasets as /v1/datasets.
 */
import path from 'node:path';
import { notFound } from '../http/errors';
import { builtin, isBuiltinDataset, readStoredDataset, storedDatasetInfo, type DatasetData } from '../datasets/datasets';

export interface DatasetRef {
  name: string;
  dataDir: string;
}

export interface DatasetShape {
  samples: number;
  features: number;
  classes: number;
}

/** Samples, features per sample and classes, for checks before a job is queued (404 if unknown). */
export async function datasetShape(ref: DatasetRef): Promise<DatasetShape> {
  const info = isBuiltinDataset(ref.name) ? builtin(ref.name).info : await storedDatasetInfo(ref.dataDir, ref.name);
  if (!info) throw notFound(`dataset '${ref.name}' not found`, 'dataset_not_found');
  return { samples: info.samples, features: info.shape.reduce((n, d) => n * d, 1), classes: info.labels.length };
}

/** In the worker: the samples and labels. */
export async function loadDataset(
  ref: DatasetRef,
): Promise<{ x: Float32Array; y: Int32Array; n: number; features: number; classes: number }> {
  let data: DatasetData;
  if (isBuiltinDataset(ref.name)) data = builtin(ref.name);
  else {
    const info = await storedDatasetInfo(ref.dataDir, ref.name);
    if (!info) throw new Error(`dataset '${ref.name}' was deleted before training started`);
    data = await readStoredDataset(path.join(ref.dataDir, 'datasets', ref.name), info);
  }
  return { x: data.x, y: data.y, n: data.info.samples, features: data.width, classes: data.info.labels.length };
}
