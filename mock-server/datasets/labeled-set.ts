// A labelled set of samples, and the two steps that draw a fixed split from one: a seeded
// shuffle of the sample order and a gather. Shared by the dataset splits and training.
// Nothing here imports TensorFlow, so evaluation code and tests can use the splits cheaply.

/** A labelled set: `x` holds `n` samples back to back, `y` their class indices. */
export interface LabeledSet {
  x: Float32Array;
  y: Int32Array;
  n: number;
}

/** A fixed train / held-out test split. */
export interface DatasetSplit {
  train: LabeledSet;
  test: LabeledSet;
}

/** Fisher-Yates shuffle in place, driven by `random` (e.g. a `mulberry32`). */
export function shuffleInPlace<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const tmp = items[i] as T;
    items[i] = items[j] as T;
    items[j] = tmp;
  }
  return items;
}

/**
 * Copies the samples at `indices` (each `width` floats wide) into a new LabeledSet.
 */
export function gatherSamples(x: ArrayLike<number>, y: ArrayLike<number>, width: number, indices: readonly number[]): LabeledSet {
  const n = indices.length;
  const outX = new Float32Array(n * width);
  const outY = new Int32Array(n);
  indices.forEach((src, dst) => {
    for (let k = 0; k < width; k++) outX[dst * width + k] = x[src * width + k] as number;
    outY[dst] = y[src] as number;
  });
  return { x: outX, y: outY, n };
}
