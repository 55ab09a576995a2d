import type { EventLoopUtilization } from "node:perf_hooks";
import { SfuError } from "../../errors.js";
import type { Logger, LogLevel } from "../../logger.js";
import type { IceServer } from "../../protocol.js";
import type { CloseReason } from "../closeReason.js";
import { TypedEmitter } from "../../util/TypedEmitter.js";
import type { SfuServiceOptions } from "../SfuService.js";
import type { JoinRequest, PeerSession, Sfu, SfuEvents, SfuState } from "../Sfu.js";
import { findResumable } from "../resume.js";
import { ForwardingWorker } from "./ForwardingWorker.js";
import type { FromWorker, PeerInfo, ProcessErrorKind, WorkerHeap } from "./messages.js";
import { RemotePeer } from "./RemotePeer.js";
import { RemoteRoom } from "./RemoteRoom.js";

export interface WorkerPoolOptions {
  workers: number;
  /** What each worker builds its {@link SfuService} from. */
  service: Omit<SfuServiceOptions, "logger">;
  logLevel: LogLevel;
  logger: Logger;
  /** How long a worker gets to close its peers and end at shutdown. */
  closeTimeoutMs?: number;
}

/** One worker's load, for metrics. */
export interface WorkerLoad {
  index: number;
  rooms: number;
  peers: number;
  /** Busy share of its event loop (0-1) since the previous `loads()` call. */
  utilization: number;
}

export type WorkerPoolEvents = SfuEvents & {
  /** A worker caught an error that no code path handled, and stayed up. */
  "process-error": [ProcessErrorKind];
};

const DEFAULT_CLOSE_TIMEOUT_MS = 3000;

/**
 * Rooms spread over worker threads, each running its own {@link SfuService}:
 * a room lives on one worker, chosen as the least loaded when the room
 * starts, so its packets never cross threads. Membership is mirrored here,
 * so signaling reads it as it would from an in-process service.
 */
export class WorkerPool extends TypedEmitter<WorkerPoolEvents> implements Sfu {
  readonly #options: WorkerPoolOptions;
  readonly #logger: Logger;
  readonly #workers: ForwardingWorker[] = [];
  readonly #rooms = new Map<string, RemoteRoom>();
  readonly #peers = new Map<string, RemotePeer>();
  /** Each worker's event-loop reading at the previous `loads()`, to measure the interval since. */
  readonly #utilizationMarks = new WeakMap<ForwardingWorker, EventLoopUtilization>();
  #closing: Promise<void> | undefined;

  constructor(options: WorkerPoolOptions) {
    super(options.logger);
    if (!Number.isInteger(options.workers) || options.workers < 1) {
      throw new RangeError(`a worker pool needs at least one worker, got ${options.workers}`);
    }
    this.#options = options;
    this.#logger = options.logger.child({ component: "worker-pool" });
    for (let index = 0; index < options.workers; index++) this.#workers.push(this.#startWorker(index));
    this.#logger.info("forwarding workers started", { workers: options.workers });
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  get iceServers(): IceServer[] {
    return this.#options.service.media.iceServers;
  }

  get rooms(): RemoteRoom[] {
    return [...this.#rooms.values()].filter((room) => room.size > 0);
  }

  get peerCount(): number {
    return this.#peers.size;
  }

  /** Peers (and joins in flight) per worker, in worker order. */
  get workerLoads(): number[] {
    return this.#workers.map((worker) => this.#loadOf(worker));
  }

  /** The workers, in index order; a failed one is replaced in its slot. */
  get workers(): readonly ForwardingWorker[] {
    return this.#workers;
  }

  /** Rooms, peers and event-loop utilization per running worker. */
  loads(): WorkerLoad[] {
    return this.#workers
      .filter((worker) => worker.running)
      .map((worker) => {
        const since = this.#utilizationMarks.get(worker);
        const now = worker.eventLoopUtilization();
        this.#utilizationMarks.set(worker, now);
        const delta = since ? worker.eventLoopUtilization(since) : now;
        let rooms = 0;
        let peers = 0;
        for (const room of this.#rooms.values()) {
          if (room.worker !== worker || room.size === 0) continue;
          rooms++;
          peers += room.size;
        }
        return { index: worker.index, rooms, peers, utilization: delta.utilization };
      });
  }

  /** Each running worker's V8 heap, read from the worker itself; a worker that dies meanwhile is left out. */
  async heaps(): Promise<Array<WorkerHeap & { index: number }>> {
    const running = this.#workers.filter((worker) => worker.running);
    const reads = await Promise.allSettled(running.map((worker) => worker.call("heap", null)));
    return reads.flatMap((read, i) =>
      read.status === "fulfilled" ? [{ index: running[i]!.index, ...read.value }] : [],
    );
  }

  get runningWorkers(): number {
    return this.#workers.filter((worker) => worker.running).length;
  }

  getRoom(roomId: string): RemoteRoom | undefined {
    const room = this.#rooms.get(roomId);
    return room && room.size > 0 ? room : undefined;
  }

  async join(request: JoinRequest): Promise<PeerSession> {
    if (this.closed) throw new SfuError("SHUTTING_DOWN", "the SFU is shutting down");
    const room = this.#routeFor(request.roomId);
    room.pendingJoins++;
    try {
      const { id } = await room.worker.call("join", request).catch((error: unknown) => {
        // A drain that stops the worker under a join in flight refuses that join as the drain does.
        if (this.closed) throw new SfuError("SHUTTING_DOWN", "the SFU is shutting down", { cause: error });
        throw error;
      });
      // The worker announced the peer just before it replied, so the mirror already has it.
      const peer = this.#peers.get(id);
      if (!peer) throw new SfuError("NEGOTIATION_FAILED", "the session ended as it was created");
      return peer;
    } finally {
      room.pendingJoins--;
      this.#forgetIfUnused(room);
    }
  }

  findResumable(resumeToken: string, roomId: string, userId: string): PeerSession | undefined {
    return findResumable(this.#rooms.get(roomId), resumeToken, userId);
  }

  async state(): Promise<SfuState> {
    const states = await Promise.all(
      this.#workers.filter((worker) => worker.running).map((worker) => worker.call("state", null)),
    );
    return {
      rooms: states.flatMap((state) => state.rooms),
      totals: {
        packetsForwarded: sum(states.map((state) => state.totals.packetsForwarded)),
        bytesForwarded: sum(states.map((state) => state.totals.bytesForwarded)),
      },
    };
  }

  /** Closes every peer (announcing each here at once), then every worker; idempotent. */
  close(reason: CloseReason = "shutdown"): Promise<void> {
    this.#closing ??= (async () => {
      for (const peer of [...this.#peers.values()]) peer.ended(reason);
      const timeoutMs = this.#options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
      await Promise.all(this.#workers.map((worker) => worker.close(reason, timeoutMs)));
      this.#rooms.clear();
      this.removeAllListeners();
      this.#logger.info("forwarding workers stopped");
    })();
    return this.#closing;
  }

  #startWorker(index: number): ForwardingWorker {
    const { service, logLevel, logger } = this.#options;
    const worker = new ForwardingWorker({ setup: { index, logLevel, service }, logger });
    worker.on("message", (message) => this.#onMessage(worker, message));
    worker.on("failed", (error) => this.#onWorkerFailed(worker, error));
    return worker;
  }

  /** The room's worker, or the least loaded one for a room that is not running anywhere. */
  #routeFor(roomId: string): RemoteRoom {
    const existing = this.#rooms.get(roomId);
    if (existing) return existing;
    let chosen = this.#workers[0]!;
    let lowest = Infinity;
    for (const worker of this.#workers) {
      const load = this.#loadOf(worker);
      if (load < lowest) [chosen, lowest] = [worker, load];
    }
    const room = new RemoteRoom(roomId, chosen);
    this.#rooms.set(roomId, room);
    return room;
  }

  #loadOf(worker: ForwardingWorker): number {
    let load = 0;
    for (const room of this.#rooms.values()) if (room.worker === worker) load += room.load;
    return load;
  }

  #onMessage(worker: ForwardingWorker, message: Exclude<FromWorker, { kind: "reply" }>): void {
    switch (message.kind) {
      case "peer-joined":
        this.#addPeer(worker, message.peer);
        return;
      case "peer-left":
        this.#peers.get(message.peerId)?.ended(message.reason);
        return;
      case "peer-connected":
        this.#peers.get(message.peerId)?.deliver("connected");
        return;
      case "offer":
        this.#peers.get(message.peerId)?.deliver("offer", message.description);
        return;
      case "ice-candidate":
        this.#peers.get(message.peerId)?.deliver("ice-candidate", message.candidate);
        return;
      case "peer-updated":
        this.#peers.get(message.peerId)?.updated(message.state);
        return;
      case "active-speakers": {
        const room = this.#rooms.get(message.roomId);
        if (room?.worker === worker) this.emit("active-speakers", room, message.speakers);
        return;
      }
      case "track-published":
      case "track-unpublished": {
        const peer = this.#peers.get(message.peerId);
        const room = peer && this.#rooms.get(peer.roomId);
        if (!peer || !room) return;
        const known = peer.publishedTracks.has(message.trackId);
        if (message.kind === "track-published" && !known) peer.publishedTracks.add(message.trackId);
        else if (message.kind === "track-unpublished" && known) peer.publishedTracks.delete(message.trackId);
        else return;
        this.emit(message.kind, room, peer, message.trackId);
        return;
      }
      case "process-error":
        this.emit("process-error", message.error);
        return;
    }
  }

  #addPeer(worker: ForwardingWorker, info: PeerInfo): void {
    const room = this.#rooms.get(info.roomId);
    if (!room || room.worker !== worker) {
      // Only a join routed here makes a peer; anything else is a bug worth seeing, not hiding.
      this.#logger.error("a worker announced a peer for a room it does not run", {
        ...info,
        worker: worker.index,
      });
      worker.post({ kind: "close-peer", peerId: info.id, reason: "worker-failed" });
      return;
    }
    const { reconnectGraceMs } = this.#options.service;
    const peer = new RemotePeer({ info, worker, reconnectGraceMs, logger: this.#logger });
    this.#peers.set(peer.id, peer);
    room.add(peer);
    peer.once("connected", () => this.emit("peer-connected", peer));
    peer.on("updated", () => this.emit("peer-updated", room, peer));
    peer.once("close", (reason) => {
      this.#peers.delete(peer.id);
      room.remove(peer);
      // A session ended here goes before its worker says so: its tracks go with it, as in SfuService.
      for (const trackId of peer.publishedTracks) this.emit("track-unpublished", room, peer, trackId);
      peer.publishedTracks.clear();
      this.emit("peer-left", room, peer, reason);
      this.#forgetIfUnused(room);
    });
    this.emit("peer-joined", room, peer);
  }

  #forgetIfUnused(room: RemoteRoom): void {
    if (room.unused && this.#rooms.get(room.id) === room) this.#rooms.delete(room.id);
  }

  /** A worker died: its sessions are gone, so end them here; a fresh worker takes its place. */
  #onWorkerFailed(worker: ForwardingWorker, error: Error): void {
    this.#logger.error("forwarding worker failed; removing its peers", {
      worker: worker.index,
      error: error.message,
    });
    for (const peer of [...this.#peers.values()]) if (peer.worker === worker) peer.ended("worker-failed");
    for (const room of [...this.#rooms.values()]) if (room.worker === worker) this.#rooms.delete(room.id);
    if (this.closed) return;
    this.#workers[worker.index] = this.#startWorker(worker.index);
  }
}

function sum(values: number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
