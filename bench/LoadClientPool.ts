import { fork, spawnSync, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { ChildMessage, ClientReport, ParentMessage, PeerSpec } from "./ipc.js";
import { sampleTree, type TreeSample } from "./procfs.js";

type PeerReady = Extract<ChildMessage, { type: "peer-ready" }>;

const START_TIMEOUT_MS = 30_000;
const REPORT_TIMEOUT_MS = 10_000;
const CLOSE_TIMEOUT_MS = 8_000;
const ENTRY = fileURLToPath(new URL("./load-client.ts", import.meta.url));

/** One forked load-client process and the replies it owes us. */
interface Worker {
  child: ChildProcess;
  exited: Promise<void>;
  alive: boolean;
  pendingPeers: Map<number, (message: PeerReady) => void>;
  pendingReport: ((report: ClientReport) => void) | undefined;
}

export interface LoadClientPoolOptions {
  processes: number;
  targetUrl: string;
  readyTimeoutMs: number;
  /** Run the clients under SCHED_BATCH (see `batchSchedule`). */
  batch: boolean;
  /** Write a V8 CPU profile of each client process into this directory when it exits. */
  profileDir?: string | undefined;
}

/**
 * The load-client processes of one scenario. Peers are spread round-robin by
 * index; every call is answered by the process that hosts the peer.
 */
export class LoadClientPool {
  readonly #workers: Worker[];
  #closed = false;

  private constructor(workers: Worker[]) {
    this.#workers = workers;
  }

  static async start(options: LoadClientPoolOptions): Promise<LoadClientPool> {
    const workers = Array.from({ length: options.processes }, () => LoadClientPool.#spawn(options));
    const pool = new LoadClientPool(workers.map((w) => w.worker));
    try {
      await Promise.all(workers.map((w) => w.ready));
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  static #spawn(options: LoadClientPoolOptions): { worker: Worker; ready: Promise<void> } {
    const child = fork(ENTRY, [], {
      execArgv: [
        ...(options.profileDir ? ["--cpu-prof", `--cpu-prof-dir=${options.profileDir}`] : []),
        "--import",
        "tsx",
      ],
      env: {
        ...process.env,
        BENCH_TARGET_URL: options.targetUrl,
        BENCH_READY_TIMEOUT_MS: String(options.readyTimeoutMs),
      },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    if (options.batch && child.pid !== undefined) batchSchedule(child.pid);
    const worker: Worker = {
      child,
      alive: true,
      exited: new Promise((resolve) => child.once("exit", () => resolve())),
      pendingPeers: new Map(),
      pendingReport: undefined,
    };
    void worker.exited.then(() => {
      worker.alive = false;
      // Whoever waits on a peer of a dead process gets an answer instead of a hang.
      for (const [index, resolve] of worker.pendingPeers) resolve(deadPeer(index));
      worker.pendingPeers.clear();
    });
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("load client did not start")), START_TIMEOUT_MS);
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`load client exited during start-up (code ${code})`));
      });
      child.on("message", (message: ChildMessage) => {
        if (message.type === "ready") {
          clearTimeout(timer);
          resolve();
        } else if (message.type === "peer-ready") {
          worker.pendingPeers.get(message.index)?.(message);
          worker.pendingPeers.delete(message.index);
        } else if (message.type === "report") {
          worker.pendingReport?.(message.report);
          worker.pendingReport = undefined;
        }
      });
    });
    return { worker, ready };
  }

  get pids(): number[] {
    return this.#workers.map((w) => w.child.pid ?? -1).filter((pid) => pid > 0);
  }

  sample(): TreeSample {
    return sampleTree(this.pids);
  }

  /** Starts a peer on its process; resolves when that peer is ready (or gave up). */
  join(peer: PeerSpec): Promise<PeerReady> {
    const worker = this.#workers[peer.index % this.#workers.length]!;
    return new Promise((resolve) => {
      if (!worker.alive) {
        resolve(deadPeer(peer.index));
        return;
      }
      worker.pendingPeers.set(peer.index, resolve);
      this.#send(worker, { type: "join", peer });
    });
  }

  measure(startMs: number, endMs: number): void {
    for (const worker of this.#workers) this.#send(worker, { type: "measure", startMs, endMs });
  }

  /** Every peer stops sending and stays connected. */
  silence(): void {
    for (const worker of this.#workers) this.#send(worker, { type: "silence" });
  }

  async reports(): Promise<ClientReport[]> {
    return Promise.all(
      this.#workers.map(
        (worker) =>
          new Promise<ClientReport>((resolve, reject) => {
            const timer = setTimeout(
              () => reject(new Error("load client did not report")),
              REPORT_TIMEOUT_MS,
            );
            worker.pendingReport = (report) => {
              clearTimeout(timer);
              resolve(report);
            };
            this.#send(worker, { type: "report" });
          }),
      ),
    );
  }

  /** Asks every process to close its peers and exit; kills those that do not. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(
      this.#workers.map(async (worker) => {
        this.#send(worker, { type: "close" });
        const timer = setTimeout(() => worker.child.kill("SIGKILL"), CLOSE_TIMEOUT_MS);
        await worker.exited;
        clearTimeout(timer);
      }),
    );
  }

  /** Synchronous last-resort kill, for process exit handlers. */
  killNow(): void {
    for (const worker of this.#workers) if (worker.alive) worker.child.kill("SIGKILL");
  }

  #send(worker: Worker, message: ParentMessage): void {
    if (worker.alive && worker.child.connected) worker.child.send(message);
  }
}

function deadPeer(index: number): PeerReady {
  return {
    type: "peer-ready",
    index,
    peerId: null,
    joinMs: null,
    tracksMs: null,
    connectedMs: null,
    iceConnected: false,
    failedIn: null,
    phasesMs: {},
    error: "load client died",
  };
}

/**
 * Puts a load client under Linux's SCHED_BATCH policy (`chrt --batch`). On
 * loopback every datagram the server sends wakes a client; a normal-policy
 * client then preempts the server on that CPU, and the server pays two
 * context switches per wake-up that remote clients would never cause. A batch
 * task is not allowed to preempt on wake-up, so the server's CPU figures keep
 * less of the load generator in them. Silently does nothing without `chrt`.
 */
export function batchSchedule(pid: number): void {
  spawnSync("chrt", ["--batch", "--pid", "0", String(pid)], { stdio: "ignore" });
}
