/** Packets the window remembers behind the highest index, as libsrtp's default (RFC 3711 §3.3.2 asks for at least 64). */
export const REPLAY_WINDOW = 128;
const WORDS = REPLAY_WINDOW / 32;

/**
 * SRTP replay protection for one inbound stream (RFC 3711 §3.3.2): which
 * packet indexes (ROC·2^16 + SEQ) within REPLAY_WINDOW of the highest one
 * authenticated so far have been seen. A packet seen before, or older than
 * the window, is a replay.
 *
 * The bitmap is a ring (RFC 6479): the bit of index i is i mod REPLAY_WINDOW,
 * so moving the window forward clears the bits it moves over instead of
 * shifting the whole map. Indexes stay below 2^48, exact in a double.
 */
export class ReplayWindow {
  /** Allocated once; every per-packet operation is integer work on it. */
  readonly #bits = new Uint32Array(WORDS);
  #highest = -1;

  /** The highest index accepted, -1 before the first. */
  get highest(): number {
    return this.#highest;
  }

  /** Records an authenticated packet's index; false if it is a replay (then nothing changes). */
  accept(index: number): boolean {
    const highest = this.#highest;
    if (index > highest) {
      const bits = this.#bits;
      if (highest < 0 || index - highest >= REPLAY_WINDOW) {
        bits.fill(0);
      } else {
        for (let i = highest + 1; i < index; i++) {
          const slot = i % REPLAY_WINDOW;
          bits[slot >>> 5]! &= ~(1 << (slot & 31));
        }
      }
      const slot = index % REPLAY_WINDOW;
      bits[slot >>> 5]! |= 1 << (slot & 31);
      this.#highest = index;
      return true;
    }
    if (highest - index >= REPLAY_WINDOW) return false;
    const slot = index % REPLAY_WINDOW;
    const word = slot >>> 5;
    const bit = 1 << (slot & 31);
    if ((this.#bits[word]! & bit) !== 0) return false;
    this.#bits[word]! |= bit;
    return true;
  }
}
