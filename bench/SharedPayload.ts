import { PAYLOAD_MAX_BYTES, PAYLOAD_MIN_BYTES, fillPattern } from "./payload.js";

/**
 * The one payload buffer every peer of a load-client process writes into.
 * Both send paths encrypt it synchronously into a datagram of their own
 * (lib/media's `protect`, werift's `writeRtp`), so a buffer reused by the next
 * send is never read late; one buffer and pre-cut views of each length keep
 * the payload itself from allocating.
 */
export class SharedPayload {
  readonly buffer = Buffer.alloc(PAYLOAD_MAX_BYTES);
  readonly #views: Buffer[] = [];

  constructor() {
    fillPattern(this.buffer);
    for (let length = PAYLOAD_MIN_BYTES; length <= PAYLOAD_MAX_BYTES; length++) {
      this.#views.push(this.buffer.subarray(0, length));
    }
  }

  /** A view of the first `length` bytes (80..120). */
  view(length: number): Buffer {
    return this.#views[length - PAYLOAD_MIN_BYTES]!;
  }
}
