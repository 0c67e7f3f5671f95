// The `mnist` package (1.1.0, CommonJS) ships no types. We declare only what we use.
declare module 'mnist' {
  interface MnistDigit {
    /** The digit this set holds (0..9). */
    readonly id: number;
    /** Number of samples of this digit (about 1,000). */
    readonly length: number;
    /**
     * Sample `index` as 784 floats in [0, 1]: a 28x28 image, row-major, white digit on
     * black. Careful: an out-of-range index silently returns a *random* sample.
     */
    get(index: number): number[];
  }

  /** `mnist[d]` holds the samples of digit d. */
  const mnist: readonly MnistDigit[];
  export default mnist;
}
