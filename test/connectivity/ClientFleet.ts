import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { FleetCommand, FleetReply } from "./fleetProcess.js";

type Replied<C extends FleetCommand["cmd"]> = Extract<FleetReply, { cmd: C; ok: true }>;

/**
 * The parent's end of fleetProcess.ts: MediaClients in a child process (the
 * test runner's own Node options, so TypeScript loads as here), one command
 * at a time. close() ends the child even when it does not answer.
 */
export class ClientFleet {
  readonly #child: ChildProcess;
  readonly #exited: Promise<void>;
  #closed = false;

  constructor() {
    this.#child = fork(fileURLToPath(new URL("./fleetProcess.ts", import.meta.url)), { stdio: "inherit" });
    this.#exited = new Promise((resolve) => this.#child.once("exit", () => resolve()));
  }

  /** Runs `command` in the child; rejects with the child's error. */
  request<C extends FleetCommand["cmd"]>(command: Extract<FleetCommand, { cmd: C }>): Promise<Replied<C>> {
    return new Promise((resolve, reject) => {
      const onExit = () => reject(new Error(`the client process exited during ${command.cmd}`));
      this.#child.once("exit", onExit);
      this.#child.once("message", (reply: FleetReply) => {
        this.#child.off("exit", onExit);
        if (reply.ok) resolve(reply as Replied<C>);
        else reject(new Error(`client process, ${reply.cmd}: ${reply.error}`));
      });
      this.#child.send(command);
    });
  }

  /** Closes every client and waits for the child to exit (killing it after 10 s). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const timer = setTimeout(() => this.#child.kill(), 10_000);
    if (this.#child.exitCode === null && this.#child.connected) {
      await Promise.race([this.request({ cmd: "close" }).catch(() => undefined), this.#exited]);
    }
    await this.#exited;
    clearTimeout(timer);
  }
}
