/** Sparse, serialisable form of a histogram: `[binIndex, count]` pairs. */
export type HistogramBins = Array<[number, number]>;

/**
 * A fixed-bin latency histogram. Recording is one array increment, so the
 * per-packet receive path allocates nothing; percentiles are read at the end.
 */
export class LatencyHistogram {
  /** Bin width in milliseconds. */
  static readonly RESOLUTION_MS = 0.1;
  /** Values at or above this land in the last bin. */
  static readonly MAX_MS = 5000;

  readonly #bins = new Uint32Array(Math.ceil(LatencyHistogram.MAX_MS / LatencyHistogram.RESOLUTION_MS) + 1);
  #count = 0;

  get count(): number {
    return this.#count;
  }

  record(valueMs: number): void {
    let bin = Math.floor(valueMs / LatencyHistogram.RESOLUTION_MS);
    // Clocks agree only to within microseconds, so a tiny negative value is real and counts as zero.
    if (bin < 0) bin = 0;
    else if (bin >= this.#bins.length) bin = this.#bins.length - 1;
    this.#bins[bin]!++;
    this.#count++;
  }

  /** Adds another histogram's sparse bins into this one. */
  merge(bins: HistogramBins): void {
    for (const [bin, count] of bins) {
      if (bin < 0 || bin >= this.#bins.length) continue;
      this.#bins[bin]! += count;
      this.#count += count;
    }
  }

  toBins(): HistogramBins {
    const out: HistogramBins = [];
    for (let i = 0; i < this.#bins.length; i++) {
      const count = this.#bins[i]!;
      if (count > 0) out.push([i, count]);
    }
    return out;
  }

  /** The value below which `fraction` of samples fall (upper edge of that bin); NaN when empty. */
  percentile(fraction: number): number {
    if (this.#count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(fraction * this.#count));
    let seen = 0;
    for (let i = 0; i < this.#bins.length; i++) {
      seen += this.#bins[i]!;
      if (seen >= rank) return (i + 1) * LatencyHistogram.RESOLUTION_MS;
    }
    return LatencyHistogram.MAX_MS;
  }
}
