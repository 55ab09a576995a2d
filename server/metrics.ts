import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { WorkerPool } from "../lib/sfu/cluster/WorkerPool.js";
import type { Sfu, SfuEvents, Subscribable } from "../lib/sfu/Sfu.js";
import { collectProcessMetrics, type EventLoopLag } from "./eventLoopLag.js";

/** One scrape reads many series; they share one state read (it crosses threads with workers). */
const STATE_REUSE_MS = 500;

/** The SFU's Prometheus series, on a registry of their own (no global state). */
export class Metrics {
  readonly registry = new Registry();
  readonly signalingEvents: Counter<"event" | "result">;
  readonly joinDuration: Histogram;
  readonly processErrors: Counter<"kind">;
  readonly socketConnections: Gauge;
  readonly adminActions: Counter<"action">;
  readonly webhookDeliveries: Counter<"result">;
  readonly webhookQueueLength: Gauge;
  readonly #joinStarts = new Map<string, number>();
  readonly #eventLoopLag: EventLoopLag | undefined;

  /**
   * `sfu` is this node's forwarding, which the series describe; `sessions`
   * (by default the same) is where the join-duration clock hears of the
   * sessions whose joins this node took. `eventLoopMonitorMs` is how often
   * the event-loop lag is sampled (with `defaultMetrics`).
   */
  constructor(
    sfu: Sfu,
    options: { defaultMetrics: boolean; eventLoopMonitorMs: number; sessions?: Subscribable<SfuEvents> },
  ) {
    const registers = [this.registry];
    const state = recent(() => sfu.state());
    if (options.defaultMetrics) {
      this.#eventLoopLag = collectProcessMetrics(this.registry, options.eventLoopMonitorMs);
    }

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
      async collect() {
        const { rooms } = await state();
        this.set(rooms.reduce((count, room) => count + room.tracks.length, 0));
      },
    });
    new Gauge({
      name: "sfu_ice_selected_pairs",
      help: "Peers by the candidate types of their selected ICE pair (relay = through a TURN server)",
      labelNames: ["local_type", "remote_type"],
      registers,
      async collect() {
        const { rooms } = await state();
        this.reset();
        for (const room of rooms) {
          for (const { selectedPair } of room.peers) {
            if (selectedPair) this.inc({ local_type: selectedPair.local, remote_type: selectedPair.remote });
          }
        }
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
      async () => (await state()).totals.packetsForwarded,
    );
    totalCounter(
      registers,
      "sfu_rtp_bytes_forwarded_total",
      "RTP payload bytes sent to receivers",
      async () => (await state()).totals.bytesForwarded,
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

    this.adminActions = new Counter({
      name: "sfu_admin_actions_total",
      help: "Moderation actions taken through /admin, by action",
      labelNames: ["action"],
      registers,
    });
    this.webhookDeliveries = new Counter({
      name: "sfu_webhook_deliveries_total",
      help: "Webhook attempts (delivered, failed) and events given up after retrying or dropped from a full queue",
      labelNames: ["result"],
      registers,
    });
    this.webhookQueueLength = new Gauge({
      name: "sfu_webhook_queue_length",
      help: "Webhook events waiting for delivery, over every URL",
      registers,
    });

    // In a cluster the sessions this node's sockets carry include ones whose media runs elsewhere.
    const sessions = options.sessions ?? sfu;
    sessions.on("peer-connected", (peer) => this.#peerConnected(peer.id));
    sessions.on("peer-left", (_room, peer) => this.#joinStarts.delete(peer.id));
  }

  /** Per-thread series for an SFU that forwards in worker threads. */
  watchWorkers(pool: WorkerPool): void {
    const registers = [this.registry];
    // One read per scrape, shared by the series: utilization is measured from one read to the next.
    const loads = recent(() => pool.loads());
    const heaps = recent(() => pool.heaps());
    const gauge = (name: string, help: string, read: () => Promise<Array<[number, number]>>) =>
      new Gauge({
        name,
        help,
        labelNames: ["worker"],
        registers,
        async collect() {
          const values = await read();
          this.reset();
          for (const [worker, value] of values) this.set({ worker: String(worker) }, value);
        },
      });
    gauge(
      "sfu_worker_event_loop_utilization",
      "Busy share (0-1) of each forwarding worker's event loop since the previous scrape",
      async () => (await loads()).map((load) => [load.index, load.utilization]),
    );
    gauge("sfu_worker_peers", "Peers whose rooms run on each forwarding worker", async () =>
      (await loads()).map((load) => [load.index, load.peers]),
    );
    // The nodejs_heap_* series describe the main thread; each worker has a V8 heap of its own.
    gauge("sfu_worker_heap_used_bytes", "V8 heap in use in each forwarding worker", async () =>
      (await heaps()).map((heap) => [heap.index, heap.usedBytes]),
    );
    gauge("sfu_worker_heap_total_bytes", "V8 heap reserved by each forwarding worker", async () =>
      (await heaps()).map((heap) => [heap.index, heap.totalBytes]),
    );
    gauge(
      "sfu_worker_external_memory_bytes",
      "Memory outside the V8 heap (Buffers) held by each forwarding worker's objects",
      async () => (await heaps()).map((heap) => [heap.index, heap.externalBytes]),
    );
  }

  /** Stops the join-duration clock of a session whose join this node took; later calls do nothing. */
  #peerConnected(peerId: string): void {
    const start = this.#joinStarts.get(peerId);
    if (start === undefined) return;
    this.#joinStarts.delete(peerId);
    this.joinDuration.observe((performance.now() - start) / 1000);
  }

  /** Stops the event-loop monitor's timer; idempotent. */
  close(): void {
    this.#eventLoopLag?.close();
  }

  /** Starts the join-duration clock for a new session. */
  joinStarted(peerId: string, startedAt: number): void {
    this.#joinStarts.set(peerId, startedAt);
  }
}

/** A counter that mirrors a running total kept elsewhere, catching up on each scrape. */
function totalCounter(registers: Registry[], name: string, help: string, read: () => Promise<number>): void {
  let seen = 0;
  new Counter({
    name,
    help,
    registers,
    async collect() {
      const total = await read();
      // A worker that died took its share of the total with it; a counter never goes back.
      if (total > seen) this.inc(total - seen);
      seen = Math.max(seen, total);
    },
  });
}

/** `read`, called at most once per STATE_REUSE_MS: the series of one scrape share a read. */
function recent<T>(read: () => T): () => Promise<Awaited<T>> {
  let value: Promise<Awaited<T>> | undefined;
  let readAt = 0;
  return () => {
    if (!value || performance.now() - readAt > STATE_REUSE_MS) {
      value = Promise.resolve(read());
      readAt = performance.now();
    }
    return value;
  };
}
