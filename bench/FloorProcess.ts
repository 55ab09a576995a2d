import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { FLOOR_PEERS_ENV, FLOOR_ROOMS_ENV } from "./floorTopology.js";
import type { FloorChildMessage, FloorParentMessage } from "./ipc.js";
import { batchSchedule } from "./LoadClientPool.js";
import { sampleTree, type TreeSample } from "./procfs.js";
import type { Scenario } from "./results.js";

type Count = Extract<FloorChildMessage, { type: "count" }>;

const START_TIMEOUT_MS = 15_000;
const COUNT_TIMEOUT_MS = 5_000;
const STOP_GRACE_MS = 2_000;

/** The two sides of the Node UDP floor. */
export type FloorRole = "forwarder" | "peers";

const ENTRIES: Record<FloorRole, string> = {
  forwarder: fileURLToPath(new URL("./floor-forwarder.ts", import.meta.url)),
  peers: fileURLToPath(new URL("./floor-peers.ts", import.meta.url)),
};

/** One process of the Node UDP floor (floor-forwarder.ts or floor-peers.ts), forked under tsx. */
export class FloorProcess {
  /** Its sockets' ports on 127.0.0.1, one per peer in peer order. */
  readonly ports: number[];
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  #alive = true;
  #pendingCount: ((count: Count) => void) | undefined;

  private constructor(child: ChildProcess, exited: Promise<void>, ports: number[]) {
    this.#child = child;
    this.#exited = exited;
    this.ports = ports;
    void exited.then(() => (this.#alive = false));
    child.on("message", (message: FloorChildMessage) => {
      if (message.type !== "count") return;
      this.#pendingCount?.(message);
      this.#pendingCount = undefined;
    });
  }

  /** Forks the process for `scenario` and waits until its sockets are bound. */
  static async start(role: FloorRole, scenario: Scenario, batch: boolean): Promise<FloorProcess> {
    const child = fork(ENTRIES[role], [], {
      execArgv: ["--import", "tsx"],
      env: {
        ...process.env,
        [FLOOR_ROOMS_ENV]: String(scenario.rooms),
        [FLOOR_PEERS_ENV]: String(scenario.peersPerRoom),
      },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    if (batch && child.pid !== undefined) batchSchedule(child.pid);
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    try {
      const ports = await new Promise<number[]>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`floor ${role} did not start`)), START_TIMEOUT_MS);
        void exited.then(() => reject(new Error(`floor ${role} exited during start-up`)));
        child.on("message", (message: FloorChildMessage) => {
          if (message.type !== "bound") return;
          clearTimeout(timer);
          resolve(message.ports);
        });
      });
      return new FloorProcess(child, exited, ports);
    } catch (error) {
      child.kill("SIGKILL");
      throw error;
    }
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  /** Hands it the other side's ports: the forwarder starts forwarding, the peers start sending. */
  connect(ports: readonly number[]): void {
    this.#send({ type: "connect", ports: [...ports] });
  }

  /** Datagrams it has sent and received so far. */
  count(): Promise<Count> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("floor process did not answer")), COUNT_TIMEOUT_MS);
      this.#pendingCount = (count) => {
        clearTimeout(timer);
        resolve(count);
      };
      this.#send({ type: "count" });
    });
  }

  sample(): TreeSample {
    return sampleTree([this.pid]);
  }

  /** SIGTERM, SIGKILL after a grace period. Idempotent. */
  async stop(): Promise<void> {
    if (!this.#alive) return;
    this.#child.kill("SIGTERM");
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), STOP_GRACE_MS);
    await this.#exited;
    clearTimeout(timer);
  }

  /** Synchronous last-resort kill, for process exit handlers. */
  killNow(): void {
    if (this.#alive) this.#child.kill("SIGKILL");
  }

  #send(message: FloorParentMessage): void {
    if (this.#alive && this.#child.connected) this.#child.send(message);
  }
}
