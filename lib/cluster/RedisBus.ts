import { randomUUID } from "node:crypto";
import { SfuError } from "../errors.js";
import type { Logger } from "../logger.js";
import { KEYS, unavailable, type ClusterStore } from "./ClusterStore.js";
import type { CallName, Calls, Envelope, Post, WireError } from "./messages.js";

/** Answers a call from another node; a thrown {@link SfuError} reaches the caller with its code. */
export type CallHandler = (from: string, method: CallName, args: unknown) => Promise<unknown>;
export type PostHandler = (from: string, message: Post) => void;

/** The room is placed on another node than the one asked: ask that one. */
export class MovedError extends Error {
  constructor(readonly owner: string) {
    super(`the room is placed on node ${owner}`);
    this.name = "MovedError";
  }
}

interface Pending {
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Messages between nodes over Redis pub/sub: each node subscribes to its own
 * channel; a call carries a correlation id and is answered on the caller's
 * channel. One publishing connection per node keeps the messages from one node
 * to another in order, so a session's offers and candidates arrive as sent.
 */
export class RedisBus {
  readonly #store: ClusterStore;
  readonly #nodeId: string;
  readonly #logger: Logger;
  readonly #pending = new Map<string, Pending>();
  /** Call ids are unique across restarts of a node that reuses its NODE_ID. */
  readonly #idPrefix = randomUUID().slice(0, 8);
  #nextId = 0;
  #onCall: CallHandler | undefined;
  #onPost: PostHandler | undefined;
  #closed = false;

  constructor(options: { store: ClusterStore; nodeId: string; logger: Logger }) {
    this.#store = options.store;
    this.#nodeId = options.nodeId;
    this.#logger = options.logger;
    const channel = KEYS.channel(this.#nodeId);
    options.store.subscriber.on("message", (from: string, raw: string) => {
      if (from === channel) this.#receive(raw);
    });
    // Queued until Redis answers; ioredis subscribes again after each reconnect.
    options.store.subscriber.subscribe(channel).catch((error: unknown) => {
      this.#logger.error("could not subscribe to this node's channel", { error });
    });
  }

  handle(onCall: CallHandler, onPost: PostHandler): void {
    this.#onCall = onCall;
    this.#onPost = onPost;
  }

  /** Asks `nodeId` and waits for its answer, at most `timeoutMs`. */
  async call<K extends CallName>(
    nodeId: string,
    method: K,
    args: Calls[K]["args"],
    timeoutMs: number,
  ): Promise<Calls[K]["result"]> {
    if (this.#closed) throw new SfuError("SHUTTING_DOWN", "the SFU is shutting down");
    const id = `${this.#idPrefix}-${this.#nextId++}`;
    const answered = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new SfuError("INTERNAL", `node ${nodeId} did not answer ${method} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { resolve, reject, timer });
    });
    let listeners: number;
    try {
      listeners = await this.#publish(nodeId, { type: "call", from: this.#nodeId, id, method, args });
    } catch (error) {
      this.#settle(id)?.reject(unavailable(error));
      return (await answered) as Calls[K]["result"];
    }
    // Nobody listens on that channel: the node is gone, so say so now rather than at the timeout.
    if (listeners === 0)
      this.#settle(id)?.reject(
        new SfuError("INTERNAL", `node ${nodeId} does not answer; it may have stopped`),
      );
    return (await answered) as Calls[K]["result"];
  }

  /** Sends a one-way message; one that cannot be sent is logged, since nothing waits for it. */
  post(nodeId: string, message: Post): void {
    if (this.#closed) return;
    this.#publish(nodeId, { type: "post", from: this.#nodeId, message }).catch((error: unknown) => {
      this.#logger.debug("could not post to a node", { nodeId, kind: message.kind, error });
    });
  }

  /** Fails every call still waiting; later messages are ignored. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const id of [...this.#pending.keys()])
      this.#settle(id)?.reject(new SfuError("SHUTTING_DOWN", "the SFU is shutting down"));
  }

  #publish(nodeId: string, envelope: Envelope): Promise<number> {
    return this.#store.redis.publish(KEYS.channel(nodeId), JSON.stringify(envelope));
  }

  #settle(id: string): Pending | undefined {
    const pending = this.#pending.get(id);
    if (!pending) return undefined;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    return pending;
  }

  #receive(raw: string): void {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(raw) as Envelope;
    } catch {
      this.#logger.warn("ignored a message that is not JSON");
      return;
    }
    switch (envelope.type) {
      case "reply": {
        const pending = this.#settle(envelope.id);
        if (!pending) return;
        if ("error" in envelope) pending.reject(fromWire(envelope.error));
        else pending.resolve(envelope.result);
        return;
      }
      case "call":
        void this.#answer(envelope.from, envelope.id, envelope.method, envelope.args);
        return;
      case "post":
        this.#onPost?.(envelope.from, envelope.message);
        return;
    }
  }

  async #answer(from: string, id: string, method: CallName, args: unknown): Promise<void> {
    let reply: Envelope;
    try {
      if (!this.#onCall) throw new SfuError("SHUTTING_DOWN", "this node is not taking calls");
      const result = await this.#onCall(from, method, args);
      reply = { type: "reply", from: this.#nodeId, id, result: result ?? null };
    } catch (error) {
      reply = { type: "reply", from: this.#nodeId, id, error: toWire(error, this.#logger, method) };
    }
    this.#publish(from, reply).catch((error: unknown) => {
      this.#logger.debug("could not answer a call", { to: from, method, error });
    });
  }
}

function toWire(error: unknown, logger: Logger, method: string): WireError {
  if (error instanceof MovedError) return { message: error.message, movedTo: error.owner };
  if (error instanceof SfuError) return { code: error.code, message: error.message };
  logger.error("a call from another node failed unexpectedly", { method, error });
  return { message: "internal error" };
}

function fromWire(error: WireError): Error {
  if (error.movedTo !== undefined) return new MovedError(error.movedTo);
  if (error.code !== undefined) return new SfuError(error.code, error.message);
  return new Error(error.message);
}
