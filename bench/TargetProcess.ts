import { spawn, type ChildProcess } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { httpGet } from "./http.js";
import { onCpuMicros, sampleTree, type TreeSample } from "./procfs.js";

/** How to start one server under test. */
export interface TargetSpec {
  /** Short key used in options and tables: `sfu` or `naive`. */
  name: string;
  /** Human label for the report. */
  label: string;
  command: string;
  args: string[];
  /** Extra environment; PORT is added per run. */
  env: Record<string, string>;
  /** Worker threads the target forwards in (`SFU_WORKERS`); 0 when the main thread forwards. */
  forwardingThreads: number;
  /**
   * A connectivity variant of the SFU (PROTOCOL §13), set up per run by runScenario: `relay` starts
   * a coturn on loopback and hands the SFU its URL and secret, `one-port` gives it a free ICE_UDP_PORT.
   */
  connectivity?: "relay" | "one-port";
  /** Whether the target runs a full GC on SIGUSR2 (our SFU under `--expose-gc`); others may die of it. */
  gcSignal?: boolean;
}

/** How long a requested full GC is given before RSS is read. */
const GC_SETTLE_MS = 1000;

const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;
/** Keep the tail of the server's output for error messages, not all of it. */
const OUTPUT_TAIL_BYTES = 8192;

/**
 * A server under test running as its own process group, so that it and
 * anything it spawned can be measured through /proc and killed together.
 */
export class TargetProcess {
  readonly spec: TargetSpec;
  readonly url: string;
  readonly #child: ChildProcess;
  #output = "";
  /** The unfinished last line of the server's stdout, for {@link warnings}. */
  #partialLine = "";
  readonly #warnings = new Map<string, number>();
  #exited = false;
  /** How the process ended, e.g. "exit code 1" or "signal SIGSEGV"; empty while it runs. */
  #exitStatus = "";
  readonly #exit: Promise<void>;

  private constructor(spec: TargetSpec, port: number) {
    this.spec = spec;
    this.url = `http://127.0.0.1:${port}`;
    this.#child = spawn(spec.command, spec.args, {
      env: { ...process.env, ...spec.env, PORT: String(port) },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const keep = (chunk: Buffer): void => {
      this.#output = (this.#output + chunk.toString()).slice(-OUTPUT_TAIL_BYTES);
    };
    this.#child.stdout?.on("data", (chunk: Buffer) => {
      keep(chunk);
      this.#countWarnings(chunk.toString());
    });
    this.#child.stderr?.on("data", keep);
    this.#exit = new Promise((resolve) => {
      this.#child.once("exit", (code, signal) => {
        this.#exitStatus = signal === null ? `exit code ${code}` : `signal ${signal}`;
        this.#exited = true;
        resolve();
      });
      this.#child.once("error", (error) => {
        keep(Buffer.from(String(error)));
        this.#exitStatus = "could not start";
        this.#exited = true;
        resolve();
      });
    });
  }

  /** Spawns the target and waits until `GET /health` answers 200. */
  static async start(spec: TargetSpec, port: number): Promise<TargetProcess> {
    const target = new TargetProcess(spec, port);
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (target.#exited) {
        throw new Error(`${spec.label} exited during start-up (${target.#exitStatus}):\n${target.#output}`);
      }
      try {
        if ((await httpGet(`${target.url}/health`, 1000)).status === 200) return target;
      } catch {
        // Not listening yet.
      }
      await sleep(200);
    }
    await target.stop();
    throw new Error(`${spec.label} did not answer /health within ${READY_TIMEOUT_MS} ms:\n${target.#output}`);
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  get alive(): boolean {
    return !this.#exited;
  }

  /** The last few KB the server printed, after how it ended if it has. */
  get output(): string {
    return this.#exitStatus === "" ? this.#output : `(${this.#exitStatus})\n${this.#output}`;
  }

  /** How often the server logged each warning (JSON log lines at level warn or error), by message. */
  get warnings(): ReadonlyMap<string, number> {
    return this.#warnings;
  }

  sample(): TreeSample {
    return sampleTree([this.pid]);
  }

  /** CPU time of the server's threads so far, in µs, to the microsecond (see onCpuMicros); NaN once it is gone. */
  onCpuMicros(): number {
    return onCpuMicros(this.pid) ?? Number.NaN;
  }

  /**
   * Asks the server for a full garbage collection (SIGUSR2, see server/debugGc.ts) and samples it
   * once that has had time to run; undefined for a target that does not take the signal.
   */
  async sampleAfterGc(): Promise<TreeSample | undefined> {
    if (!this.spec.gcSignal || this.#exited) return undefined;
    process.kill(this.pid, "SIGUSR2");
    await sleep(GC_SETTLE_MS);
    return this.sample();
  }

  /** Scrapes `/metrics`: the exposition text, empty when the target has none or it failed. */
  async scrape(): Promise<string> {
    try {
      const { status, body } = await httpGet(`${this.url}/metrics`);
      return status === 200 ? body : "";
    } catch {
      return "";
    }
  }

  /** SIGTERM to the whole group, SIGKILL after a grace period. Idempotent. */
  async stop(): Promise<void> {
    if (this.#exited) return;
    this.#signalGroup("SIGTERM");
    const grace = new AbortController();
    const timer = sleep(STOP_GRACE_MS, "timeout" as const, { signal: grace.signal }).catch(
      () => "aborted" as const,
    );
    const outcome = await Promise.race([this.#exit.then(() => "exited" as const), timer]);
    grace.abort();
    if (outcome === "timeout") {
      this.#signalGroup("SIGKILL");
      await this.#exit;
    }
    // A wrapper may exit before its children: sweep the group either way.
    this.#signalGroup("SIGKILL");
  }

  /** Synchronous last-resort kill, for process exit handlers. */
  killNow(): void {
    this.#signalGroup("SIGKILL");
  }

  #countWarnings(text: string): void {
    const lines = (this.#partialLine + text).split("\n");
    this.#partialLine = lines.pop() ?? "";
    for (const line of lines) {
      // Cheap test first: most lines are not warnings, and the server may print plain text too.
      if (!line.includes('"level":"warn"') && !line.includes('"level":"error"')) continue;
      try {
        const { message } = JSON.parse(line) as { message?: unknown };
        const key = typeof message === "string" ? message : "(no message)";
        this.#warnings.set(key, (this.#warnings.get(key) ?? 0) + 1);
      } catch {
        // Not a JSON log line.
      }
    }
  }

  #signalGroup(signal: NodeJS.Signals): void {
    try {
      // Negative pid: the process group the detached child leads.
      process.kill(-this.pid, signal);
    } catch {
      // Already gone.
    }
  }
}
