import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { waitFor } from "../helpers/wait.js";

/** The bearer of the cluster tests' admin and debug routes (their nodes' ADMIN_TOKEN). */
export const CLUSTER_ADMIN_TOKEN = "cluster-admin-token";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** One SFU process started from the real entry point, joined to a cluster through `redisUrl` when given. */
export class SfuNode {
  readonly nodeId: string;
  readonly logs: Array<Record<string, unknown>> = [];
  #child: ChildProcess;
  #url: string | undefined;
  #stderr = "";

  private constructor(nodeId: string, child: ChildProcess) {
    this.nodeId = nodeId;
    this.#child = child;
  }

  /**
   * Spawns `server/index.ts` with its own port, media port range (when given) and NODE_ID, and waits
   * until it listens. Without `redisUrl` it runs alone.
   */
  static async start(options: {
    nodeId: string;
    redisUrl?: string;
    mediaPorts?: [number, number];
    env?: Record<string, string>;
  }): Promise<SfuNode> {
    const child = spawn(process.execPath, ["--import", "tsx", "server/index.ts"], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        PORT: "0",
        HOST: "127.0.0.1",
        STUN_SERVERS: "",
        ICE_ADVERTISE_IP: "127.0.0.1",
        ALLOW_PRIVATE_CANDIDATES: "true",
        ...(options.mediaPorts && {
          ICE_UDP_PORT_MIN: String(options.mediaPorts[0]),
          ICE_UDP_PORT_MAX: String(options.mediaPorts[1]),
        }),
        LOG_LEVEL: "info",
        ...(options.redisUrl !== undefined && { REDIS_URL: options.redisUrl }),
        NODE_ID: options.nodeId,
        ...options.env,
      },
    });
    const node = new SfuNode(options.nodeId, child);
    let pending = "";
    child.stdout.on("data", (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) {
        try {
          node.logs.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // Not a log line.
        }
      }
    });
    child.stderr.on("data", (chunk: Buffer) => (node.#stderr += chunk.toString()));
    const listening = await waitFor(
      () => node.logs.find((line) => line.message === "SFU listening") ?? (child.exitCode !== null && {}),
      30_000,
      `node ${options.nodeId} to listen`,
    );
    if (listening.port === undefined) throw new Error(`node ${options.nodeId} exited: ${node.#stderr}`);
    node.#url = `http://127.0.0.1:${Number(listening.port)}`;
    return node;
  }

  get url(): string {
    return this.#url!;
  }

  /** The node's process id (tests read its sockets under /proc). */
  get pid(): number {
    return this.#child.pid ?? -1;
  }

  get alive(): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null;
  }

  get stderr(): string {
    return this.#stderr;
  }

  /** Sends `signal` to this process (by its pid) and waits for it to exit. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<{ code: number | null; signal: string | null }> {
    const child = this.#child;
    if (!this.alive) return { code: child.exitCode, signal: child.signalCode };
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
      child.once("exit", (code, sig) => resolve({ code, signal: sig })),
    );
    child.kill(signal);
    return exited;
  }

  /** Pauses (SIGSTOP) or resumes (SIGCONT) the process: alive, but answering nothing meanwhile. */
  pause(paused: boolean): void {
    this.#child.kill(paused ? "SIGSTOP" : "SIGCONT");
  }

  /** A GET, with the admin bearer when the node has ADMIN_TOKEN set (its debug routes ask for it). */
  get<T>(path: string): Promise<{ status: number; body: T }> {
    return this.send<T>("GET", path);
  }

  /** An HTTP request with the admin bearer (PROTOCOL §12 admin routes), `body` sent as JSON. */
  async send<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const response = await fetch(`${this.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${CLUSTER_ADMIN_TOKEN}`,
        ...(body !== undefined && { "content-type": "application/json" }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
    return { status: response.status, body: (await response.json()) as T };
  }
}
