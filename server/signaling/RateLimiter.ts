/**
 * A token bucket: `rate` events per second on average, bursts up to twice
 * that. One per socket, so a flooding client slows only itself.
 */
export class RateLimiter {
  readonly #rate: number;
  readonly #capacity: number;
  #tokens: number;
  #last = performance.now();

  constructor(ratePerSecond: number) {
    this.#rate = ratePerSecond;
    this.#capacity = ratePerSecond * 2;
    this.#tokens = this.#capacity;
  }

  /** Takes one token; false when the bucket is empty. */
  take(): boolean {
    const now = performance.now();
    this.#tokens = Math.min(this.#capacity, this.#tokens + ((now - this.#last) / 1000) * this.#rate);
    this.#last = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
