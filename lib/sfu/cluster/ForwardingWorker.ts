import type { EventLoopUtilization } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import type { Logger } from "../../logger.js";
import type { CloseReason } from "../closeReason.js";
import { SfuError } from "../../errors.js";
import { withTimeout } from "../../util/timeout.js";
import { TypedEmitter } from "../../util/TypedEmitter.js";
import type { CallName, Calls, FromWorker, ToWorker, WireError, WorkerSetup } from "./messages.js";

export type ForwardingWorkerEvents = {
  /** Everything the worker says but replies. */
  message: [Exclude<FromWorker, { kind: "reply" }>];
  /** The thread ended without being asked to. */
  failed: [Error];
};

interface PendingCall {
  resolve: (result: unknown) => void;
  reject: (error: Error) => void;
}

// Under tsx (tests, `npm run dev`) this file is TypeScript, and the worker starts from a tsx bootstrap.
const WORKER_ENTRY = new URL(
  import.meta.url.endsWith(".ts") ? "./tsxWorker.mjs" : "./worker.js",
  import.meta.url,
);

/** One forwarding thread, and request/reply over its message port. */
export class ForwardingWorker extends TypedEmitter<ForwardingWorkerEvents> {
  readonly index: number;
  readonly #worker: Worker;
  readonly #calls = new Map<number, PendingCall>();
  readonly #logger: Logger;
  readonly #exited: Promise<unknown>;
  #nextCallId = 1;
  #closing = false;
  #running = true;

  constructor(options: { setup: WorkerSetup; logger: Logger }) {
    super(options.logger);
    this.index = options.setup.index;
    this.#logger = options.logger.child({ worker: this.index });
    this.#worker = new Worker(WORKER_ENTRY, { workerData: options.setup });
    this.#exited = new Promise((resolve) => this.#worker.once("exit", resolve));
    this.#worker.on("message", (message: FromWorker) => {
      if (message.kind === "reply") this.#settle(message);
      else this.emit("message", message);
    });
    this.#worker.on("error", (error) => this.#logger.error("forwarding worker crashed", { error }));
    this.#worker.on("exit", (code) => this.#onExit(code));
  }

  get running(): boolean {
    return this.#running;
  }

  /** Busy share of the worker's event loop since `previous` (or since it started). */
  eventLoopUtilization(previous?: EventLoopUtilization): EventLoopUtilization {
    return this.#worker.performance.eventLoopUtilization(previous);
  }

  call<K extends CallName>(method: K, args: Calls[K]["args"]): Promise<Calls[K]["result"]> {
    if (!this.#running) return Promise.reject(new Error(`forwarding worker ${this.index} has stopped`));
    const id = this.#nextCallId++;
    const settled = new Promise<Calls[K]["result"]>((resolve, reject) => {
      this.#calls.set(id, { resolve: resolve as (result: unknown) => void, reject });
    });
    const message = { kind: "call", id, method, args } as ToWorker;
    this.#worker.postMessage(message);
    return settled;
  }

  /** A one-way message; dropped once the thread has ended. */
  post(message: ToWorker): void {
    if (this.#running) this.#worker.postMessage(message);
  }

  /** Asks the worker to close its peers, then waits for the thread to end (or ends it). */
  async close(reason: CloseReason, timeoutMs: number): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    try {
      await withTimeout(this.call("close", { reason }), timeoutMs, "worker close");
      await withTimeout(this.#exited, timeoutMs, "worker exit");
    } catch (error) {
      if (this.#running) this.#logger.warn("ending a worker that did not stop by itself", { error });
      await this.terminate();
    }
    this.removeAllListeners();
  }

  /** Ends the thread at once; unless the worker was closing, that counts as a failure. */
  async terminate(): Promise<void> {
    await this.#worker.terminate();
  }

  #settle(reply: Extract<FromWorker, { kind: "reply" }>): void {
    const pending = this.#calls.get(reply.id);
    if (!pending) return;
    this.#calls.delete(reply.id);
    if ("error" in reply) pending.reject(fromWire(reply.error));
    else pending.resolve(reply.result);
  }

  #onExit(code: number): void {
    this.#running = false;
    const stopped = new Error(`forwarding worker ${this.index} stopped (exit code ${code})`);
    for (const pending of this.#calls.values()) pending.reject(stopped);
    this.#calls.clear();
    if (!this.#closing) this.emit("failed", stopped);
  }
}

function fromWire(error: WireError): Error {
  return error.code ? new SfuError(error.code, error.message) : new Error(error.message);
}
