/**
 * The server's own vitals (test controls): the largest event-loop delay and the peak resident
 * memory over a window. Measured inside the process, so a test's budget does not depend on how
 * busy the machine running it is. Nothing is measured until the first read or reset.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import type { components } from 'modelport';

export type VitalsView = components['schemas']['Vitals'];

/** How often resident memory is sampled: a peak shorter than this may be missed by sampling alone. */
const SAMPLE_MS = 10;

export class Vitals {
  private histogram: IntervalHistogram | undefined;
  private sampler: NodeJS.Timeout | undefined;
  private since = new Date();
  private rssAtStart = 0;
  private sampledPeak = 0;
  /** The kernel's lifetime peak (getrusage maxrss) when the window began: a rise past it happened in the window. */
  private kernelPeakAtStart = 0;

  read(): VitalsView {
    this.start();
    const rss = process.memoryUsage.rss();
    const kernelPeak = kernelPeakRss();
    const peak = Math.max(this.sampledPeak, rss, kernelPeak > this.kernelPeakAtStart ? kernelPeak : 0);
    const histogram = this.histogram!;
    const ms = (ns: number) => (Number.isFinite(ns) ? Math.round(ns / 1e4) / 100 : 0);
    return {
      since: this.since.toISOString(),
      rss_bytes: rss,
      rss_at_start_bytes: this.rssAtStart,
      peak_rss_bytes: peak,
      heap_used_bytes: process.memoryUsage().heapUsed,
      event_loop_delay_ms: { max: ms(histogram.max), p99: ms(histogram.percentile(99)), mean: ms(histogram.mean) },
    };
  }

  reset(): void {
    this.start();
    this.histogram!.reset();
    this.since = new Date();
    this.rssAtStart = process.memoryUsage.rss();
    this.sampledPeak = this.rssAtStart;
    this.kernelPeakAtStart = kernelPeakRss();
  }

  close(): void {
    this.histogram?.disable();
    clearInterval(this.sampler);
    this.histogram = undefined;
    this.sampler = undefined;
  }

  private start(): void {
    if (this.histogram) return;
    this.histogram = monitorEventLoopDelay({ resolution: SAMPLE_MS });
    this.histogram.enable();
    this.sampler = setInterval(() => {
      this.sampledPeak = Math.max(this.sampledPeak, process.memoryUsage.rss());
    }, SAMPLE_MS).unref();
    this.reset();
  }
}

function kernelPeakRss(): number {
  return process.resourceUsage().maxRSS * 1024;
}
