/**
 * How long turns may follow one another before the event loop gets its
 * I/O back: a couple of offers to a full room. One turn per loop iteration
 * would be too few when the iterations are long (a busy SFU reads hundreds
 * of datagrams in each), and newcomers would queue for seconds.
 */
export const OFFER_TURNS_BUDGET_MS = 25;

/** A peer connection's SFU offer, built when its turn comes; resolves once it is sent (or given up). */
export type OfferTurn = () => Promise<void>;

/**
 * Builds the SFU's offers one at a time, newcomers first, and gives the
 * event loop back every {@link OFFER_TURNS_BUDGET_MS}. An offer to a room of 100 costs werift some 20 ms;
 * one join asks every peer already there for one, and built all at once
 * those are seconds during which no STUN check, DTLS flight or signaling
 * message is read. Taking turns lets the I/O in between, and a peer waiting
 * for its turn keeps gathering changes, so one offer carries all of them: the
 * busier the SFU, the fewer offers a fill of the room costs.
 *
 * A peer's first offer (the tracks of everyone already there, for a newcomer
 * to hear them) goes before renegotiations of peers already connected.
 */
export class OfferTurns {
  /** Waiting first offers, then renegotiations; a Set keeps one place per peer and its order. */
  readonly #first = new Set<OfferTurn>();
  readonly #later = new Set<OfferTurn>();
  #running = false;
  #closed = false;
  /** When the turns since the event loop last had its I/O began (performance.now()). */
  #batchStart = 0;

  /** Offers waiting for their turn. */
  get waiting(): number {
    return this.#first.size + this.#later.size;
  }

  /** Queues `turn` unless it is already waiting; `first` puts it before every renegotiation. */
  request(turn: OfferTurn, first: boolean): void {
    if (this.#closed || this.#first.has(turn) || this.#later.has(turn)) return;
    (first ? this.#first : this.#later).add(turn);
    if (!this.#running) this.#next();
  }

  /** Drops a waiting turn, e.g. of a connection that closed before it came. */
  cancel(turn: OfferTurn): void {
    this.#first.delete(turn);
    this.#later.delete(turn);
  }

  /** Drops every waiting turn; later requests are ignored. */
  close(): void {
    this.#closed = true;
    this.#first.clear();
    this.#later.clear();
  }

  #next(): void {
    const turn = take(this.#first) ?? take(this.#later);
    if (!turn) {
      this.#running = false;
      return;
    }
    if (!this.#running) this.#batchStart = performance.now();
    this.#running = true;
    // The turn reports its own failures; whatever it does, the next one must come.
    void turn()
      .catch(() => undefined)
      .finally(() => {
        if (performance.now() - this.#batchStart < OFFER_TURNS_BUDGET_MS) {
          this.#next();
          return;
        }
        // setImmediate from inside a turn runs after the poll phase: the I/O that waited gets read first.
        setImmediate(() => {
          this.#batchStart = performance.now();
          this.#next();
        });
      });
  }
}

function take(turns: Set<OfferTurn>): OfferTurn | undefined {
  for (const turn of turns) {
    turns.delete(turn);
    return turn;
  }
  return undefined;
}
