import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { WorkerLoad, WorkerPool } from "../lib/sfu/cluster/WorkerPool.js";
import type { Sfu, SfuState } from "../lib/sfu/Sfu.js";

/** One scrape reads many series; they share one state read (it crosses threads with workers). */
const STATE_REUSE_MS = 500;

/** The SFU's Prometheus series, on a registry of their own (no global state). */
export class Metrics {
  readonly registry = new Registry();
  readonly signalingEvents: Counter<"event" | "result">;
  readonly joinDuration: Histogram;
  readonly processErrors: Counter<"kind">;
  readonly socketConnections: Gauge;
  readonly #joinStarts = new Map<string, number>();

  constructor(sfu: Sfu, options: { defaultMetrics: boolean }) {
    const registers = [this.registry];
    const state = recentState(sfu);
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
      async collect() {
        const { rooms } = await state();
        this.set(rooms.reduce((count, room) => count + room.tracks.length, 0));
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

    sfu.on("peer-connected", (peer) => {
      const start = this.#joinStarts.get(peer.id);
      if (start === undefined) return;
      this.#joinStarts.delete(peer.id);
      this.joinDuration.observe((performance.now() - start) / 1000);
    });
    sfu.on("peer-left", (_room, peer) => this.#joinStarts.delete(peer.id));
  }

  /** Per-thread series for an SFU that forwards in worker threads. */
  watchWorkers(pool: WorkerPool): void {
    const registers = [this.registry];
    // Both gauges read one snapshot per scrape: utilization is measured from one read to the next.
    let loads: WorkerLoad[] = [];
    new Gauge({
      name: "sfu_worker_event_loop_utilization",
      help: "Busy share (0-1) of each forwarding worker's event loop since the previous scrape",
      labelNames: ["worker"],
      registers,
      collect() {
        loads = pool.loads();
        this.reset();
        for (const load of loads) this.set({ worker: String(load.index) }, load.utilization);
      },
    });
    new Gauge({
      name: "sfu_worker_peers",
      help: "Peers whose rooms run on each forwarding worker",
      labelNames: ["worker"],
      registers,
      collect() {
        this.reset();
        for (const load of loads) this.set({ worker: String(load.index) }, load.peers);
      },
    });
    // The nodejs_heap_* series describe the main thread; each worker has a V8 heap of its own.
    let heaps: Promise<Awaited<ReturnType<WorkerPool["heaps"]>>> | undefined;
    const readHeaps = (fresh: boolean) => {
      if (fresh || !heaps) heaps = pool.heaps();
      return heaps;
    };
    new Gauge({
      name: "sfu_worker_heap_used_bytes",
      help: "V8 heap in use in each forwarding worker",
      labelNames: ["worker"],
      registers,
      async collect() {
        this.reset();
        for (const heap of await readHeaps(true)) this.set({ worker: String(heap.index) }, heap.usedBytes);
      },
    });
    new Gauge({
      name: "sfu_worker_heap_total_bytes",
      help: "V8 heap reserved by each forwarding worker",
      labelNames: ["worker"],
      registers,
      async collect() {
        this.reset();
        for (const heap of await readHeaps(false)) this.set({ worker: String(heap.index) }, heap.totalBytes);
      },
    });
    new Gauge({
      name: "sfu_worker_external_memory_bytes",
      help: "Memory outside the V8 heap (Buffers) held by each forwarding worker's objects",
      labelNames: ["worker"],
      registers,
      async collect() {
        this.reset();
        for (const heap of await readHeaps(false))
          this.set({ worker: String(heap.index) }, heap.externalBytes);
      },
    });
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

function recentState(sfu: Sfu): () => Promise<SfuState> {
  let read: Promise<SfuState> | undefined;
  let readAt = 0;
  return () => {
    if (!read || performance.now() - readAt > STATE_REUSE_MS) {
      read = sfu.state();
      readAt = performance.now();
    }
    return read;
  };
}
