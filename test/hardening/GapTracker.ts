import type { MediaStreamTrack } from "werift";
import type { MediaClient } from "../helpers/MediaClient.js";

/**
 * Records the longest silence between consecutive RTP packets on each track
 * a client receives, packet by packet rather than sampled.
 */
export class GapTracker {
  maxGapMs = 0;
  packets = 0;
  readonly #last = new Map<MediaStreamTrack, number>();
  readonly #unsubscribers: Array<() => void> = [];

  /** Starts watching every track `client` receives now and later. */
  constructor(client: MediaClient) {
    for (const transceiver of client.pc.getTransceivers()) {
      for (const track of transceiver.receiver.tracks) this.#watch(track);
    }
    this.#unsubscribers.push(client.pc.onTrack.subscribe((track) => this.#watch(track)).unSubscribe);
  }

  /** Measures from now on: earlier gaps are forgotten, and silence from now counts. */
  reset(): void {
    const now = performance.now();
    this.maxGapMs = 0;
    this.packets = 0;
    for (const track of this.#last.keys()) this.#last.set(track, now);
  }

  /** Stops watching; a gap still open now counts too, since a flow that stopped is a gap. */
  finish(): number {
    const now = performance.now();
    for (const last of this.#last.values()) this.maxGapMs = Math.max(this.maxGapMs, now - last);
    for (const unsubscribe of this.#unsubscribers.splice(0)) unsubscribe();
    return this.maxGapMs;
  }

  #watch(track: MediaStreamTrack): void {
    this.#unsubscribers.push(track.onReceiveRtp.subscribe(() => this.#onPacket(track)).unSubscribe);
  }

  #onPacket(track: MediaStreamTrack): void {
    const now = performance.now();
    const last = this.#last.get(track);
    if (last !== undefined) this.maxGapMs = Math.max(this.maxGapMs, now - last);
    this.#last.set(track, now);
    this.packets++;
  }
}
