import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { SfuService } from "../lib/sfu/SfuService.js";

/** The SFU's Prometheus series, on a registry of their own (no global state). */
export class Metrics {
  readonly registry = new Registry();
  readonly signalingEvents: Counter<"event" | "result">;
  readonly joinDuration: Histogram;
  readonly processErrors: Counter<"kind">;
  readonly socketConnections: Gauge;
  readonly #joinStarts = new Map<string, number>();

  constructor(sfu: SfuService, options: { defaultMetrics: boolean }) {
    const registers = [this.registry];
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });

    new Gauge({
      name: "sfu_rooms_active",
      help: "Rooms with at least one peer",
      registers,
      collect() {
        this.set(sfu.rooms.length);
      },
    });
    new Gauge({
      name: "sfu_peers_active",
      help: "Joined peers, including those inside their reconnect grace period",
      registers,
      collect() {
        this.set(sfu.peerCount);
      },
    });
    new Gauge({
      name: "sfu_tracks_active",
      help: "Published audio tracks",
      registers,
      collect() {
        this.set(sfu.trackCount);
      },
    });
    this.socketConnections = new Gauge({
      name: "sfu_socket_connections_active",
      help: "Open Socket.IO connections on the signaling namespace",
      registers,
    });
    // Forwarding runs per packet, so it counts in plain numbers; the counters catch up on scrape.
    totalCounter(
      registers,
      "sfu_rtp_packets_forwarded_total",
      "RTP packets sent to receivers",
      () => sfu.totals.packetsForwarded,
    );
    totalCounter(
      registers,
      "sfu_rtp_bytes_forwarded_total",
      "RTP payload bytes sent to receivers",
      () => sfu.totals.bytesForwarded,
    );
    this.signalingEvents = new Counter({
      name: "sfu_signaling_events_total",
      help: "Signaling events handled, by event and result (ok or an error code)",
      labelNames: ["event", "result"],
      registers,
    });
    this.joinDuration = new Histogram({
      name: "sfu_join_duration_seconds",
      help: "From join received to the new peer's ICE and DTLS connected",
      buckets: [0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5, 10, 30],
      registers,
    });
    this.processErrors = new Counter({
      name: "sfu_process_errors_total",
      help: "Unhandled rejections and uncaught exceptions caught at process level",
      labelNames: ["kind"],
      registers,
    });

    sfu.on("peer-connected", (peer) => {
      const start = this.#joinStarts.get(peer.id);
      if (start === undefined) return;
      this.#joinStarts.delete(peer.id);
      this.joinDuration.observe((performance.now() - start) / 1000);
    });
    sfu.on("peer-left", (_room, peer) => this.#joinStarts.delete(peer.id));
  }

  /** Starts the join-duration clock for a new session. */
  joinStarted(peerId: string, startedAt: number): void {
    this.#joinStarts.set(peerId, startedAt);
  }
}

/** A counter that mirrors a running total kept elsewhere, catching up on each scrape. */
function totalCounter(registers: Registry[], name: string, help: string, read: () => number): void {
  let seen = 0;
  new Counter({
    name,
    help,
    registers,
    collect() {
      const total = read();
      this.inc(total - seen);
      seen = total;
    },
  });
}
