/** RFC 6464 levels run from 0 (loudest, 0 dBov) to 127 (-127 dBov, silence). */
const LEVELS = 128;

/** Linear amplitude of each level, 10^(-dBov/20): computed once, read per tick. */
const AMPLITUDE = Float64Array.from({ length: LEVELS }, (_, dbov) => 10 ** (-dbov / 20));

/** How a {@link SpeechMeter} decides; see docs/PROTOCOL.md §11 "Active speakers". */
export interface SpeechRule {
  /** Speaking means louder than -thresholdDbov dBov. */
  thresholdDbov: number;
  /** Share (0-1) of the window's packets that must be that loud for a silent publisher to start speaking. */
  startShare: number;
  /** Share (0-1), at most `startShare`, that keeps a speaker speaking: the hysteresis. */
  holdShare: number;
}

/**
 * The audio levels one publisher sent over a sliding window, as a histogram
 * per tick: `observe` runs per packet and only increments two counters;
 * `tick` runs once per interval and turns the window into a smoothed level.
 *
 * The smoothed level is the level that the loudest `startShare` of the
 * window's packets reach (the loudest `holdShare` once the publisher is
 * speaking), so one loud packet among quiet ones (a cough) does not start a
 * speaker and a short pause between words does not stop one.
 */
export class SpeechMeter {
  readonly #slots: number;
  /** `slots` histograms of LEVELS counters each, one per tick of the window. */
  readonly #histogram: Uint32Array;
  readonly #counts: Uint32Array;
  #slot = 0;
  #base = 0;
  /** Whether the publisher counts as speaking after the last tick. */
  speaking = false;
  /** The smoothed level after the last tick, as linear amplitude (0 without levels). */
  level = 0;

  constructor(slots: number) {
    this.#slots = slots;
    this.#histogram = new Uint32Array(slots * LEVELS);
    this.#counts = new Uint32Array(slots);
  }

  /** Counts one packet's RFC 6464 byte (the V bit is ignored); -1 means the packet had none. */
  observe(audioLevel: number): void {
    if (audioLevel < 0) return;
    this.#histogram[this.#base + (audioLevel & 0x7f)]!++;
    this.#counts[this.#slot]!++;
  }

  /** Closes the current tick: updates `speaking` and `level`, then starts a new tick. */
  tick(rule: SpeechRule): void {
    let total = 0;
    for (let slot = 0; slot < this.#slots; slot++) total += this.#counts[slot]!;
    if (total === 0) {
      this.speaking = false;
      this.level = 0;
    } else {
      const needed = Math.ceil(total * (this.speaking ? rule.holdShare : rule.startShare));
      let dbov = 0;
      for (let reached = 0; dbov < LEVELS - 1; dbov++) {
        for (let slot = 0; slot < this.#slots; slot++) reached += this.#histogram[slot * LEVELS + dbov]!;
        if (reached >= needed) break;
      }
      this.speaking = dbov < rule.thresholdDbov;
      this.level = AMPLITUDE[dbov]!;
    }
    this.#slot = (this.#slot + 1) % this.#slots;
    this.#base = this.#slot * LEVELS;
    this.#histogram.fill(0, this.#base, this.#base + LEVELS);
    this.#counts[this.#slot] = 0;
  }

  /** Forgets everything observed: the publisher stopped, so it is silent from now on. */
  reset(): void {
    this.#histogram.fill(0);
    this.#counts.fill(0);
    this.speaking = false;
    this.level = 0;
  }
}
