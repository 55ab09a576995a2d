import { spawn, type ChildProcess } from "node:child_process";
import { get } from "node:http";
import { fileURLToPath } from "node:url";
import { expect } from "chai";
import { SignJWT } from "jose";
import type { AckResult } from "../../lib/protocol.js";
import { MediaClient } from "../helpers/MediaClient.js";
import { SignalingClient } from "../helpers/SignalingClient.js";
import { useSfu } from "../helpers/fixture.js";
import { sleep, waitFor } from "../helpers/wait.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const EXIT_LIMIT_MS = 10_000;

/** GET /health once; resolves with the status code, or 0 when the connection fails. */
function health(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = get(`${url}/health`, { agent: false, timeout: 1_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", () => resolve(0));
    req.on("timeout", () => req.destroy());
  });
}

describe("graceful shutdown of the real entry point", function () {
  this.timeout(60_000);
  /** For the tests that drain an in-process SFU; the entry point's tests spawn their own. */
  const inProcess = useSfu();
  let child: ChildProcess | undefined;
  const clients: MediaClient[] = [];
  const sockets: SignalingClient[] = [];

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.close();
    await Promise.all(clients.splice(0).map((c) => c.close()));
    if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });

  it("on SIGTERM tells every client SHUTTING_DOWN, answers /health 503 while draining, and exits 0 within 10 s", async () => {
    // server/index.ts as `tsx` runs it, in one process so that the signal and exit code are the server's own.
    const sfu = spawn(process.execPath, ["--import", "tsx", "server/index.ts"], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        PORT: "0",
        HOST: "127.0.0.1",
        STUN_SERVERS: "",
        ICE_ADVERTISE_IP: "127.0.0.1",
        ALLOW_PRIVATE_CANDIDATES: "true",
        LOG_LEVEL: "info",
      },
    });
    child = sfu;
    const logs: Array<Record<string, unknown>> = [];
    let stderr = "";
    sfu.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    let pending = "";
    sfu.stdout.on("data", (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split("\n");
      pending = lines.pop()!;
      for (const line of lines) {
        try {
          logs.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // Not a log line.
        }
      }
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>(
      (resolve) => sfu.once("exit", (code, signal) => resolve({ code, signal, at: performance.now() })),
    );
    const listening = await waitFor(
      () => logs.find((l) => l.message === "SFU listening"),
      20_000,
      `the "SFU listening" log line (stderr: ${stderr})`,
    );
    const url = `http://127.0.0.1:${String(listening.port)}`;
    expect(await health(url)).to.equal(200);

    const alice = await MediaClient.join(url, { roomId: "drain", userId: "alice" });
    const bob = await MediaClient.join(url, { roomId: "drain", userId: "bob" });
    clients.push(alice, bob);
    alice.startSending();
    bob.startSending();
    await bob.waitForPackets(alice.peerId, 25);
    await alice.waitForPackets(bob.peerId, 25);
    const late = new SignalingClient(url);
    sockets.push(late);
    await late.connected();

    // Poll /health as a load balancer would, from just before the signal until the process is gone.
    const statuses: number[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) statuses.push(await health(url));
    })();
    // A join sent the moment the drain is announced, while sockets stay open for the notice, is refused.
    const lateJoin = new Promise<AckResult>((resolve, reject) => {
      alice.signaling.socket.on("error", (error) => {
        if (error.code === "SHUTTING_DOWN")
          late.request("join", { roomId: "drain", userId: "carol" }, 5_000).then(resolve, reject);
      });
    });
    const signalled = performance.now();
    sfu.kill("SIGTERM");
    await waitFor(() => statuses.includes(503) || sfu.exitCode !== null, EXIT_LIMIT_MS, "draining");

    const notices = await Promise.all(
      [alice, bob].map((c) =>
        c.signaling.waitForEvent("error", (e) => e.code === "SHUTTING_DOWN", EXIT_LIMIT_MS),
      ),
    );
    const exit = await Promise.race([
      exited,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error("the SFU did not exit within 10 s")), EXIT_LIMIT_MS),
      ),
    ]);
    polling = false;
    await poller;
    const exitMs = exit.at - signalled;
    const lateAck = await lateJoin;

    const seen = [...new Set(statuses)];
    console.log(
      `      exit code ${exit.code} after ${exitMs.toFixed(0)} ms; /health answers seen: ${statuses.length} polls, ` +
        `${statuses.filter((s) => s === 200).length}x 200, ${statuses.filter((s) => s === 503).length}x 503, ` +
        `${statuses.filter((s) => s === 0).length}x refused; a join sent while draining: ` +
        `${lateAck.ok ? "admitted" : lateAck.error.code}`,
    );
    expect(exit.signal).to.equal(null);
    expect(exit.code).to.equal(0);
    expect(exitMs).to.be.below(EXIT_LIMIT_MS);
    for (const notice of notices) expect(notice).to.deep.include({ code: "SHUTTING_DOWN" });
    expect(seen, "/health while draining").to.include(503);
    expect(lateAck).to.deep.include({ ok: false });
    if (!lateAck.ok) expect(lateAck.error.code).to.equal("SHUTTING_DOWN");
    expect(logs.some((l) => l.message === "shutting down" && l.signal === "SIGTERM")).to.equal(true);
  });

  it("counts an unhandled rejection and an uncaught exception in sfu_process_errors_total and stays up", async () => {
    const script = fileURLToPath(new URL("./processErrorsChild.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", script], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    expect(code).to.equal(0);
    expect(out).to.include('sfu_process_errors_total{kind="unhandledRejection"} 1');
    expect(out).to.include('sfu_process_errors_total{kind="uncaughtException"} 1');
  });

  /** Starts a server with `env` that begins its drain the moment a join arrives; sends `join`. */
  async function joinAsDrainBegins(env: Record<string, string>, join: Record<string, unknown>) {
    const server = await inProcess.restart(env);
    const client = await inProcess.connect();
    for (const socket of server.application.io.of("/sfu").sockets.values()) {
      socket.prependAny((event: string) => {
        if (event === "join") setImmediate(() => void server.application.close());
      });
    }
    const ack = await client.request("join", join);
    await sleep(300);
    await server.close();
    return { ack, client };
  }

  function expectShuttingDownOnly(ack: AckResult<Record<string, unknown>>, client: SignalingClient): void {
    expect(ack).to.deep.include({ ok: false });
    if (!ack.ok) expect(ack.error.code).to.equal("SHUTTING_DOWN");
    expect(client.events("error").map((e) => e.code)).to.deep.equal(["SHUTTING_DOWN"]);
    expect(client.events("joined"), "joined events").to.deep.equal([]);
  }

  it("refuses a join whose token was still being checked when the drain began: SHUTTING_DOWN, never KICKED", async () => {
    const secret = "shutdown-test-secret-0123456789abcdef";
    const jwt = await new SignJWT({ room: "r", sub: "u" })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime("5m")
      .sign(new TextEncoder().encode(secret));
    // The join's handler is awaiting the token check when the drain begins.
    const { ack, client } = await joinAsDrainBegins(
      { JOIN_TOKEN_SECRET: secret },
      { roomId: "r", userId: "u", token: jwt },
    );
    expectShuttingDownOnly(ack, client);
  });

  it("refuses a join still being set up on a forwarding worker when the drain began: SHUTTING_DOWN, never KICKED", async () => {
    // The join is on its way to the worker and back when the drain begins.
    const { ack, client } = await joinAsDrainBegins({ SFU_WORKERS: "1" }, { roomId: "r", userId: "u" });
    expectShuttingDownOnly(ack, client);
  });
});
