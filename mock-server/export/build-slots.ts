/**
 * How many exports are built at once. Building one converts every version to a SavedModel (a
 * TF.js model is loaded and translated on the main thread, its graph held in memory until it is
 * written) and writes the repository to a temporary folder; more requests wait their turn, first
 * come first served, and a slot is handed straight to the next waiting request. Streaming the
 * finished archive to the client holds no slot.
 */
export const DEFAULT_EXPORT_BUILDS = 2;

export class BuildSlots {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number) {}

  async run<T>(build: () => Promise<T>): Promise<T> {
    if (this.running < this.limit) this.running++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await build();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }
}
