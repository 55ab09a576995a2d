const HALF = 0x8000;

/**
 * The SRTP rollover counter of one RTP stream (RFC 3711 §3.3.1): the upper 32
 * bits of the packet index, counting wraps of the 16-bit sequence number. A
 * packet's counter is guessed from the highest sequence number seen, so
 * reordering across a wrap picks the right cycle on both ends.
 */
export class RolloverCounter {
  #roc: number;
  #highest: number;
  #started: boolean;

  /** `initial` continues a stream someone else (werift) has already processed. */
  constructor(initial?: { roc: number; highestSeq: number }) {
    this.#roc = initial?.roc ?? 0;
    this.#highest = initial?.highestSeq ?? 0;
    this.#started = initial !== undefined;
  }

  get roc(): number {
    return this.#roc;
  }

  /** The counter a packet with `seq` belongs to (the receiver's guess). */
  estimate(seq: number): number {
    if (!this.#started) return this.#roc;
    const highest = this.#highest;
    if (highest < HALF) return seq - highest > HALF ? (this.#roc - 1) >>> 0 : this.#roc;
    return highest - HALF > seq ? (this.#roc + 1) >>> 0 : this.#roc;
  }

  /** Records a packet that was sent, or that authenticated with counter `roc`. */
  accept(seq: number, roc: number): void {
    if (!this.#started) {
      this.#started = true;
      this.#roc = roc;
      this.#highest = seq;
    } else if (roc === (this.#roc + 1) >>> 0) {
      this.#roc = roc;
      this.#highest = seq;
    } else if (roc === this.#roc && seq > this.#highest) {
      this.#highest = seq;
    }
  }

  /** Sender side: the counter for the next packet sent, recorded at once. */
  next(seq: number): number {
    const roc = this.estimate(seq);
    this.accept(seq, roc);
    return roc;
  }
}
