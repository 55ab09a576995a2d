import { createHistogram } from "node:perf_hooks";
import { LatencyHistogram } from "./LatencyHistogram.js";
import type { ClientReport, SdpCount } from "./ipc.js";
import { isIntact, readCounter, readSendTime, readSenderIndex } from "./payload.js";

/**
 * Everything one load-client process counts. Shared by all its peers so the
 * per-packet path touches a few numbers and one histogram, nothing more.
 */
export class ClientMeter {
  #startMs = Number.POSITIVE_INFINITY;
  #endMs = Number.NEGATIVE_INFINITY;
  readonly #sent = new Map<number, number>();
  readonly #latency = new LatencyHistogram();
  #received = 0;
  /** Intact packets received in the window per sender index (small integers from 0: an array, not a map). */
  readonly #receivedBySender: number[] = [];
  #corrupt = 0;
  #outOfOrder = 0;
  #unknownStreamTracks = 0;
  readonly #sdp: SdpCount = { fromServerBytes: 0, toServerBytes: 0, serverOffers: 0 };
  /**
   * This process's own event-loop delay, in µs: how late its peers' send
   * timers fire. A busy load client inflates the latency it measures. Read
   * from timers that run anyway: a monitor's own 10 ms timer would wake the
   * process 100 more times a second, several percent of its CPU at 1x5.
   */
  readonly #loopDelay = createHistogram();

  /** Starts counting packets whose send time falls in [startMs, endMs). */
  setWindow(startMs: number, endMs: number): void {
    this.#startMs = startMs;
    this.#endMs = endMs;
    this.#loopDelay.reset();
  }

  /** A send timer fired `lateMs` after it was due. */
  onTimerDelay(lateMs: number): void {
    this.#loopDelay.record(Math.max(1, Math.round(lateMs * 1000)));
  }

  onSent(senderIndex: number, sendTime: number): void {
    if (sendTime >= this.#startMs && sendTime < this.#endMs) {
      this.#sent.set(senderIndex, (this.#sent.get(senderIndex) ?? 0) + 1);
    }
  }

  /**
   * Checks and records one received payload, buf[start, end), that arrived at
   * `receivedAt` (ms on the shared clock, see `nowMs`); returns its sender
   * index, or -1 when corrupt. `lastCounters` is the receiving peer's last
   * counter per sender index (small integers from 0, so an array rather than
   * a map), to spot reordering and duplicates.
   */
  onReceived(buf: Buffer, start: number, end: number, receivedAt: number, lastCounters: number[]): number {
    if (!isIntact(buf, start, end)) {
      this.#corrupt++;
      return -1;
    }
    const sender = readSenderIndex(buf, start);
    const counter = readCounter(buf, start);
    if (counter <= (lastCounters[sender] ?? -1)) this.#outOfOrder++;
    else lastCounters[sender] = counter;
    const sendTime = readSendTime(buf, start);
    if (sendTime >= this.#startMs && sendTime < this.#endMs) {
      this.#received++;
      this.#receivedBySender[sender] = (this.#receivedBySender[sender] ?? 0) + 1;
      this.#latency.record(receivedAt - sendTime);
    }
    return sender;
  }

  /** An offer or answer crossed the signaling channel; counted whatever the window. */
  onSdp(direction: "from-server" | "to-server", type: "offer" | "answer", sdp: string): void {
    const bytes = Buffer.byteLength(sdp);
    if (direction === "to-server") {
      this.#sdp.toServerBytes += bytes;
      return;
    }
    this.#sdp.fromServerBytes += bytes;
    if (type === "offer") this.#sdp.serverOffers++;
  }

  onUnknownStreamTrack(): void {
    this.#unknownStreamTracks++;
  }

  report(): ClientReport {
    return {
      sentBySender: [...this.#sent.entries()],
      received: this.#received,
      receivedBySender: this.#receivedBySender.flatMap((count, sender): Array<[number, number]> =>
        count === undefined ? [] : [[sender, count]],
      ),
      corrupt: this.#corrupt,
      outOfOrder: this.#outOfOrder,
      unknownStreamTracks: this.#unknownStreamTracks,
      latency: this.#latency.toBins(),
      eventLoopP99Ms: this.#loopDelay.count > 0 ? this.#loopDelay.percentile(99) / 1e3 : Number.NaN,
      sdp: { ...this.#sdp },
    };
  }
}
