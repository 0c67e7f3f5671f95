// The fixed iris train / held-out split: stratified, 10 flowers per species held out
// (30 test, 120 train), chosen with a seeded PRNG so the recorded figures reproduce.
// No TensorFlow here.
import { mulberry32 } from '../runtime/seeded-random';
import { gatherSamples, shuffleInPlace, type DatasetSplit } from './labeled-set';
import { IRIS, IRIS_LABELS } from './iris-data';

export type { DatasetSplit, LabeledSet } from './labeled-set';

export const IRIS_FEATURES = 4;
export const IRIS_SPLIT_SEED = 42;
export const IRIS_TEST_PER_CLASS = 10;

/**
 * `train` (120) and `test` (30, 10 per species). `x` holds n * 4 raw measurements in cm
 * (sepal length, sepal width, petal length, petal width); `y` the IRIS_LABELS index.
 * Test samples are class-major; training samples are shuffled.
 */
export function loadIrisSplit(): DatasetSplit {
  const x = IRIS.flatMap((sample) => sample.features);
  const y = IRIS.map((sample) => sample.label);
  const random = mulberry32(IRIS_SPLIT_SEED);

  const trainIdx: number[] = [];
  const testIdx: number[] = [];
  IRIS_LABELS.forEach((_, label) => {
    const ofClass = shuffleInPlace(
      IRIS.flatMap((sample, i) => (sample.label === label ? [i] : [])),
      random,
    );
    testIdx.push(...ofClass.slice(0, IRIS_TEST_PER_CLASS));
    trainIdx.push(...ofClass.slice(IRIS_TEST_PER_CLASS));
  });
  // Mix the classes so a sequential reader of `train` does not see them in blocks.
  shuffleInPlace(trainIdx, random);

  return {
    train: gatherSamples(x, y, IRIS_FEATURES, trainIdx),
    test: gatherSamples(x, y, IRIS_FEATURES, testIdx),
  };
}
