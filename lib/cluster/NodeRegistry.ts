import { performance, type EventLoopUtilization } from "node:perf_hooks";
import type { Logger } from "../logger.js";
import { TypedEmitter } from "../util/TypedEmitter.js";
import type { ClusterStore } from "./ClusterStore.js";
import type { NodeInfo } from "./messages.js";

export type NodeRegistryEvents = {
  /** A node's registration expired, or it came back as a new process under the same NODE_ID. */
  "node-down": [nodeId: string, incarnation: string];
};

export interface NodeRegistryOptions {
  store: ClusterStore;
  nodeId: string;
  incarnation: string;
  /** This node's own rooms and peers, for its registration. */
  report: () => { rooms: number; peers: number };
  /**
   * Redis did not know this process (a fresh start, or Redis lost its data):
   * put this node's rooms back. `released`: the others had found this
   * process dead meanwhile, and told the clients of its rooms to rejoin.
   */
  onFreshRegistration: (released: boolean) => Promise<void>;
  logger: Logger;
  intervalMs?: number;
  ttlMs?: number;
}

/** Heartbeat every 1.5 s, key TTL 5 s: a dead node is noticed within TTL + one interval, 6.5 s. */
export const HEARTBEAT_INTERVAL_MS = 1500;
export const NODE_TTL_MS = 5000;

/**
 * This node's registration in Redis, renewed by a heartbeat that also reads
 * every other node's: their load for placement, and their disappearance,
 * which is how a dead node is noticed.
 */
export class NodeRegistry extends TypedEmitter<NodeRegistryEvents> {
  readonly #options: NodeRegistryOptions;
  readonly #intervalMs: number;
  readonly #ttlMs: number;
  readonly #logger: Logger;
  /** Live nodes as of the last heartbeat, this one included. */
  #live = new Map<string, NodeInfo>();
  #lastBeat = 0;
  /** When the current Redis connection came up: until a TTL has passed, a missing node may just not have beaten yet. */
  #connectedAt = 0;
  #utilization: EventLoopUtilization = performance.eventLoopUtilization();
  #timer: NodeJS.Timeout | undefined;
  #started = false;
  #closed = false;

  constructor(options: NodeRegistryOptions) {
    super(options.logger);
    this.#options = options;
    this.#intervalMs = options.intervalMs ?? HEARTBEAT_INTERVAL_MS;
    this.#ttlMs = options.ttlMs ?? NODE_TTL_MS;
    this.#logger = options.logger;
    options.store.redis.on("ready", () => {
      this.#connectedAt = Date.now();
      // Register at once rather than at the next tick of the interval: joins need it.
      if (this.#started) void this.beat();
    });
    if (options.store.available) this.#connectedAt = Date.now();
  }

  /** True while this node's registration is current: placement can be trusted. */
  get registered(): boolean {
    return this.#options.store.available && Date.now() - this.#lastBeat < this.#ttlMs;
  }

  /** Every live node, this one included, as of the last heartbeat. */
  get nodes(): NodeInfo[] {
    return [...this.#live.values()];
  }

  isLive(nodeId: string): boolean {
    return this.#live.has(nodeId);
  }

  incarnationOf(nodeId: string): string | undefined {
    return this.#live.get(nodeId)?.incarnation;
  }

  /** The node a new room goes to: fewest peers, then the least busy event loop. */
  leastLoaded(): string {
    let best: NodeInfo | undefined;
    for (const node of this.#live.values()) {
      if (!best || node.peers < best.peers || (node.peers === best.peers && node.load < best.load))
        best = node;
    }
    return best?.nodeId ?? this.#options.nodeId;
  }

  /** A node said it left: it is dropped now rather than when its registration expires. */
  forget(nodeId: string, incarnation: string): void {
    const info = this.#live.get(nodeId);
    if (nodeId === this.#options.nodeId || info?.incarnation !== incarnation) return;
    this.#live.delete(nodeId);
    this.emit("node-down", nodeId, incarnation);
  }

  start(): void {
    this.#started = true;
    const loop = async () => {
      await this.beat();
      if (!this.#closed) this.#timer = setTimeout(() => void loop(), this.#intervalMs);
    };
    void loop();
  }

  /** One heartbeat: renew this node, read the others, notice the dead. Never throws. */
  async beat(): Promise<void> {
    if (this.#closed) return;
    const { store, nodeId, incarnation } = this.#options;
    try {
      const now = performance.eventLoopUtilization();
      const load = performance.eventLoopUtilization(now, this.#utilization).utilization;
      this.#utilization = now;
      const info: NodeInfo = { nodeId, incarnation, ...this.#options.report(), load, lastSeen: Date.now() };
      const registration = await store.heartbeat(info, this.#ttlMs);
      if (registration !== "known") {
        this.#logger.info("registered in the cluster", { nodeId, incarnation, registration });
        await this.#options.onFreshRegistration(registration === "released");
      }
      this.#lastBeat = Date.now();
      this.#live.set(nodeId, info);
      await this.#readNodes();
    } catch (error) {
      this.#logger.debug("heartbeat failed", { error: (error as Error).message });
    }
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.removeAllListeners();
  }

  async #readNodes(): Promise<void> {
    const { store, nodeId } = this.#options;
    const registered = await store.nodes();
    const previous = this.#live;
    const live = new Map<string, NodeInfo>();
    const settled = Date.now() - this.#connectedAt >= this.#ttlMs;
    for (const [id, info] of registered) {
      if (info) {
        live.set(id, info);
      } else if (settled && id !== nodeId) {
        // Whoever notices first releases its rooms; the script does nothing if it registered again.
        const released = await store.releaseNode(id, previous.get(id)?.incarnation);
        if (released >= 0)
          this.#logger.warn("node stopped answering; its rooms released", { nodeId: id, released });
      }
    }
    live.set(nodeId, this.#live.get(nodeId)!);
    this.#live = live;
    for (const [id, info] of previous) {
      if (id === nodeId) continue;
      const now = live.get(id);
      // Missing from a Redis that just came back is not dead yet: it re-registers within an interval.
      if (!now && !settled) {
        live.set(id, info);
        continue;
      }
      if (!now || now.incarnation !== info.incarnation) this.emit("node-down", id, info.incarnation);
    }
  }
}
