/**
 * Training data for jobs: a reference the worker process can load by itself (so no large
 * arrays cross the process boundary), and its shape, for checks before a job is queued.
 */
import { loadIrisSplit } from '../models/iris-split';
import { loadMnistSplit, MNIST_PIXELS } from '../models/mnist-split';
import type { LabeledSet } from '../models/data-utils';

export type DatasetRef = { builtin: BuiltinDataset };
export type BuiltinDataset = 'mnist-train' | 'mnist-holdout' | 'iris-train' | 'iris-holdout';

export interface DatasetShape {
  samples: number;
  features: number;
  classes: number;
}

const BUILTINS: Record<BuiltinDataset, { features: number; classes: number; load: () => LabeledSet }> = {
  'mnist-train': { features: MNIST_PIXELS, classes: 10, load: () => loadMnistSplit().train },
  'mnist-holdout': { features: MNIST_PIXELS, classes: 10, load: () => loadMnistSplit().test },
  'iris-train': { features: 4, classes: 3, load: () => loadIrisSplit().train },
  'iris-holdout': { features: 4, classes: 3, load: () => loadIrisSplit().test },
};

export function isBuiltin(name: string): name is BuiltinDataset {
  return name in BUILTINS;
}

export function datasetShape(ref: DatasetRef): DatasetShape {
  const builtin = BUILTINS[ref.builtin];
  return { samples: builtin.load().n, features: builtin.features, classes: builtin.classes };
}

/** In the worker: the samples and labels. */
export function loadDataset(ref: DatasetRef): LabeledSet & { features: number; classes: number } {
  const builtin = BUILTINS[ref.builtin];
  return { ...builtin.load(), features: builtin.features, classes: builtin.classes };
}
