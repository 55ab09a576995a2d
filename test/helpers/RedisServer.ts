import { spawn, type ChildProcess } from "node:child_process";
import { freePort } from "./freePort.js";
import { waitFor } from "./wait.js";

/** Debian's redis-server; `.ci/run` installs it. */
export const REDIS_SERVER = process.env.REDIS_SERVER_PATH ?? "/usr/bin/redis-server";

/**
 * A real redis-server on 127.0.0.1 and a free port, without persistence, stopped by its pid;
 * the cluster tests' and the bench's `3 nodes` scenario's.
 */
export class RedisServer {
  readonly port: number;
  #child: ChildProcess | undefined;

  private constructor(port: number) {
    this.port = port;
  }

  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort());
    await server.restart();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  /** Starts (again) on the same port, empty: nothing is saved between runs. */
  async restart(): Promise<void> {
    if (this.#child) throw new Error("redis-server is already running");
    const child = spawn(
      REDIS_SERVER,
      ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    this.#child = child;
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("exit", () => {
      if (this.#child === child) this.#child = undefined;
    });
    await waitFor(
      () => output.includes("Ready to accept connections") || (child.exitCode !== null && "exited"),
      10_000,
      "redis-server to accept connections",
    );
    if (child.exitCode !== null) throw new Error(`redis-server did not start: ${output}`);
  }

  /** Kills it (SIGKILL: an outage, not a goodbye) and waits until it is gone. */
  async stop(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }
}
