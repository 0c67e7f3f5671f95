/**
 * The seeded random numbers that make TensorFlow work repeatable: the probe inputs a compiled
 * graph is checked on, the sample orders of the dataset splits and of training, and the weight
 * initialisation of the bundled models' training script. Math.random cannot be seeded.
 */

/**
 * mulberry32: a tiny 32-bit PRNG returning floats in [0, 1). Not cryptographic; chosen for being
 * small and giving the same sequence on every machine.
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
