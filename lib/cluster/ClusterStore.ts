import { Redis, type RedisOptions } from "ioredis";
import { SfuError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { NodeInfo } from "./messages.js";

/** Every Redis key and channel the cluster uses (docs/CLUSTER.md lists them with their TTLs). */
export const KEYS = {
  /** A node's registration (JSON {@link NodeInfo}); expires unless heartbeats renew it. */
  node: (nodeId: string) => `sfu:node:${nodeId}`,
  nodePrefix: "sfu:node:",
  /** Every node that registered and has not been seen dead yet. */
  nodes: "sfu:nodes",
  /** The rooms placed on a node, so that they can be released when it dies. */
  nodeRooms: (nodeId: string) => `sfu:node-rooms:${nodeId}`,
  nodeRoomsPrefix: "sfu:node-rooms:",
  /** The node where a room's media lives. */
  room: (roomId: string) => `sfu:room:${roomId}`,
  roomPrefix: "sfu:room:",
  /** Set when other nodes found a node dead: its incarnation, so that the process learns it if it was only paused. */
  released: (nodeId: string) => `sfu:released:${nodeId}`,
  /** A node's pub/sub channel. */
  channel: (nodeId: string) => `sfu:to:${nodeId}`,
} as const;

/**
 * Renews the node key; answers 1 when the same process was registered
 * already, 0 for a fresh registration, 2 when the others had found this
 * very process dead meanwhile (it was paused or cut off from Redis).
 */
const HEARTBEAT = `
local previous = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
if previous then
  local ok, info = pcall(cjson.decode, previous)
  if ok and info.incarnation == ARGV[4] then return 1 end
end
if redis.call('GET', KEYS[3]) == ARGV[4] then
  redis.call('DEL', KEYS[3])
  return 2
end
return 0`;

/** The room's live owner, or the candidate made its owner (one atomic step: two first joins place a room once). */
const PLACE = `
local owner = redis.call('GET', KEYS[1])
if owner and (owner == ARGV[1] or redis.call('EXISTS', ARGV[3] .. owner) == 1) then return owner end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SADD', ARGV[4] .. ARGV[1], ARGV[2])
return ARGV[1]`;

/** Lets a room go, if this node still owns it. */
const RELEASE = `
redis.call('SREM', KEYS[2], ARGV[2])
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
return 0`;

/** A dead node's rooms are released, unless it registered again meanwhile; a minute's note says which process died. */
const RELEASE_NODE = `
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
if ARGV[3] ~= '' then redis.call('SET', KEYS[4], ARGV[3], 'PX', 60000) end
local released = 0
for _, roomId in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('GET', ARGV[2] .. roomId) == ARGV[1] then
    redis.call('DEL', ARGV[2] .. roomId)
    released = released + 1
  end
end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[3], ARGV[1])
return released`;

/**
 * A fresh registration: what Redis holds for this node from before (an
 * earlier process under the same NODE_ID, or a Redis that lost its data) is
 * replaced by the rooms this process runs now.
 */
const RESET_NODE = `
local keep = {}
for i = 3, #ARGV do keep[ARGV[i]] = true end
for _, roomId in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if not keep[roomId] and redis.call('GET', ARGV[2] .. roomId) == ARGV[1] then redis.call('DEL', ARGV[2] .. roomId) end
end
redis.call('DEL', KEYS[1])
local lost = {}
for i = 3, #ARGV do
  local owner = redis.call('GET', ARGV[2] .. ARGV[i])
  if not owner or owner == ARGV[1] then
    redis.call('SET', ARGV[2] .. ARGV[i], ARGV[1])
    redis.call('SADD', KEYS[1], ARGV[i])
  else
    table.insert(lost, ARGV[i])
  end
end
return lost`;

export interface ClusterStoreOptions {
  redisUrl: string;
  nodeId: string;
  logger: Logger;
}

/** Bound on every Redis command: a join fails with a clear error rather than hang while Redis is away. */
const COMMAND_TIMEOUT_MS = 2000;

/**
 * The cluster's state in Redis: node registrations, room placement, and the
 * two connections (commands, subscriptions) everything else shares. Commands
 * fail at once while Redis is unreachable; ioredis reconnects on its own.
 */
export class ClusterStore {
  /** For commands and PUBLISH; refuses commands while disconnected instead of queueing them. */
  readonly redis: Redis;
  /** Subscriber connection; ioredis subscribes again after every reconnect. */
  readonly subscriber: Redis;
  readonly #nodeId: string;
  readonly #logger: Logger;
  #lastErrorLog = 0;
  #closed = false;

  constructor(options: ClusterStoreOptions) {
    this.#nodeId = options.nodeId;
    this.#logger = options.logger;
    const common: RedisOptions = {
      connectTimeout: 2000,
      // Keep trying for as long as the node runs; at most a second apart once Redis is back.
      retryStrategy: (attempt) => Math.min(100 * attempt, 1000),
      connectionName: `sfu-${options.nodeId}`,
    };
    this.redis = new Redis(options.redisUrl, {
      ...common,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: COMMAND_TIMEOUT_MS,
    });
    this.subscriber = new Redis(options.redisUrl, { ...common, maxRetriesPerRequest: null });
    for (const [name, connection] of [
      ["commands", this.redis],
      ["subscriber", this.subscriber],
    ] as const) {
      connection.on("error", (error: Error) => this.#logError(name, error));
      connection.on("ready", () => this.#logger.info("redis connected", { connection: name }));
    }
  }

  /** True while the command connection is up. */
  get available(): boolean {
    return this.redis.status === "ready";
  }

  /**
   * Renews this node's registration: `known` when Redis knew this process,
   * `fresh` when it did not (a fresh start, or Redis lost its data), and
   * `released` when the other nodes had found this process dead meanwhile.
   */
  async heartbeat(info: NodeInfo, ttlMs: number): Promise<"known" | "fresh" | "released"> {
    const result = await this.#run(
      HEARTBEAT,
      [KEYS.node(info.nodeId), KEYS.nodes, KEYS.released(info.nodeId)],
      [JSON.stringify(info), String(ttlMs), info.nodeId, info.incarnation],
    );
    return result === 1 ? "known" : result === 2 ? "released" : "fresh";
  }

  /** Replaces what Redis holds for this node with `rooms`; answers the rooms another node took meanwhile. */
  async resetNode(rooms: string[]): Promise<string[]> {
    const lost = await this.#run(
      RESET_NODE,
      [KEYS.nodeRooms(this.#nodeId)],
      [this.#nodeId, KEYS.roomPrefix, ...rooms],
    );
    return Array.isArray(lost) ? lost.map(String) : [];
  }

  /** Every registered node, read in one round trip. */
  async nodes(): Promise<Map<string, NodeInfo | undefined>> {
    const ids = await this.redis.smembers(KEYS.nodes);
    const values = ids.length > 0 ? await this.redis.mget(ids.map(KEYS.node)) : [];
    const nodes = new Map<string, NodeInfo | undefined>();
    ids.forEach((id, i) => nodes.set(id, parseNode(values[i])));
    return nodes;
  }

  /** The room's owner: its live owner, or `candidate` placed there now. */
  async place(roomId: string, candidate: string): Promise<string> {
    const owner = await this.#run(
      PLACE,
      [KEYS.room(roomId)],
      [candidate, roomId, KEYS.nodePrefix, KEYS.nodeRoomsPrefix],
    );
    return String(owner);
  }

  async release(roomId: string): Promise<void> {
    await this.#run(RELEASE, [KEYS.room(roomId), KEYS.nodeRooms(this.#nodeId)], [this.#nodeId, roomId]);
  }

  /** Releases a dead node's rooms and forgets it; a no-op if it registered again. `incarnation`: the process seen last, if known. */
  async releaseNode(nodeId: string, incarnation = ""): Promise<number> {
    const released = await this.#run(
      RELEASE_NODE,
      [KEYS.nodeRooms(nodeId), KEYS.node(nodeId), KEYS.nodes, KEYS.released(nodeId)],
      [nodeId, KEYS.roomPrefix, incarnation],
    );
    return Number(released);
  }

  /** Takes this node out of the cluster: its registration and every room still placed here. */
  async deregister(): Promise<void> {
    await this.redis.del(KEYS.node(this.#nodeId));
    await this.releaseNode(this.#nodeId);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([quit(this.redis), quit(this.subscriber)]);
  }

  /** EVAL with the script's body: a few hundred bytes, and nothing to reload after Redis restarts empty. */
  async #run(script: string, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await this.redis.eval(script, keys.length, ...keys, ...args);
    } catch (error) {
      throw unavailable(error);
    }
  }

  #logError(connection: string, error: Error): void {
    // A Redis outage raises an error per reconnect attempt: one line every 5 s is enough.
    const now = Date.now();
    if (now - this.#lastErrorLog < 5000) return;
    this.#lastErrorLog = now;
    this.#logger.warn("redis unavailable", { connection, error: error.message });
  }
}

/** The error a client sees when a step needs Redis and Redis is not there (PROTOCOL §14). */
export function unavailable(cause?: unknown): SfuError {
  if (cause instanceof SfuError) return cause;
  return new SfuError("INTERNAL", "cluster state unavailable", { cause });
}

function parseNode(value: string | null | undefined): NodeInfo | undefined {
  if (!value) return undefined;
  try {
    return JSON.parse(value) as NodeInfo;
  } catch {
    return undefined;
  }
}

async function quit(connection: Redis): Promise<void> {
  // QUIT would wait in the offline queue for a Redis that is not there.
  if (connection.status !== "ready") {
    connection.disconnect();
    return;
  }
  try {
    await connection.quit();
  } catch {
    connection.disconnect();
  }
}
