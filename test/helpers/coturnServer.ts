import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./freePort.js";

/** A coturn server on 127.0.0.1, started by a test or the bench. */
export interface Coturn {
  /** turnserver's process id (the bench reads its CPU time). */
  readonly pid: number;
  readonly port: number;
  /** Set when started with `tls`: the turns: port, and the PEM of its self-signed certificate. */
  readonly tlsPort: number | undefined;
  readonly certificate: string | undefined;
  /** That certificate's file, e.g. for a process's NODE_EXTRA_CA_CERTS. */
  readonly certificateFile: string | undefined;
  /** coturn's `static-auth-secret`. */
  readonly secret: string;
  /** A turn: URL over `transport` (turns: for "tls"). */
  url(transport: "udp" | "tcp" | "tls"): string;
  /** Everything coturn logged so far. */
  readonly log: string;
  stop(): Promise<void>;
}

/** How long turnserver gets to open its listeners. */
export const COTURN_READY_TIMEOUT_MS = 10_000;

/**
 * Starts Debian's `turnserver` on loopback with TURN REST credentials
 * (`use-auth-secret`), loopback peers allowed and a relay port range of its
 * own, and resolves once its listeners are open. No TLS unless `tls`
 * (a self-signed certificate made with openssl).
 */
export async function startCoturn(options: { tls?: boolean } = {}): Promise<Coturn> {
  const dir = mkdtempSync(join(tmpdir(), "sfu-coturn-"));
  // coturn takes the same number for UDP as for TCP.
  const port = await freePort();
  const tlsPort = options.tls ? await freePort() : undefined;
  const secret = randomBytes(16).toString("hex");
  // A relay range of its own, so that parallel suites rarely meet in one.
  const minPort = 20_000 + 200 * Math.floor(Math.random() * 200);
  const args = [
    "-n",
    "-v",
    "--listening-ip=127.0.0.1",
    "--relay-ip=127.0.0.1",
    `--listening-port=${port}`,
    `--min-port=${minPort}`,
    `--max-port=${minPort + 199}`,
    "--use-auth-secret",
    `--static-auth-secret=${secret}`,
    "--realm=sfu.test",
    "--allow-loopback-peers",
    "--no-cli",
    "--no-dtls",
    "--log-file=stdout",
    "--simple-log",
    `--pidfile=${join(dir, "turnserver.pid")}`,
    `--userdb=${join(dir, "turndb")}`,
  ];
  let certificate: string | undefined;
  if (tlsPort !== undefined) {
    certificate = selfSignedCertificate(dir);
    args.push(
      `--tls-listening-port=${tlsPort}`,
      `--cert=${join(dir, "cert.pem")}`,
      `--pkey=${join(dir, "key.pem")}`,
    );
  } else {
    args.push("--no-tls");
  }

  const child = spawn("turnserver", args, { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout.on("data", (chunk: Buffer) => (log += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (log += chunk.toString()));
  const stop = once(() => stopProcess(child).finally(() => rmSync(dir, { recursive: true, force: true })));
  // Should the test process end without its after-hook, coturn goes with it.
  const onExit = () => child.kill("SIGKILL");
  process.once("exit", onExit);

  try {
    await waitForListeners(child, () => log, tlsPort !== undefined);
  } catch (error) {
    await stop();
    process.off("exit", onExit);
    throw error;
  }
  return {
    pid: child.pid ?? -1,
    port,
    tlsPort,
    certificate,
    certificateFile: certificate === undefined ? undefined : join(dir, "cert.pem"),
    secret,
    url(transport) {
      if (transport === "tls") return `turns:127.0.0.1:${tlsPort}?transport=tcp`;
      return `turn:127.0.0.1:${port}?transport=${transport}`;
    },
    get log() {
      return log;
    },
    async stop() {
      process.off("exit", onExit);
      await stop();
    },
  };
}

async function waitForListeners(child: ChildProcess, log: () => string, tls: boolean): Promise<void> {
  const deadline = Date.now() + COTURN_READY_TIMEOUT_MS;
  for (;;) {
    const text = log();
    const udp = /UDP listener opened on/.test(text);
    const tcp = (text.match(/TCP listener opened on/g) ?? []).length >= (tls ? 2 : 1);
    if (udp && tcp && /turn server id=\d+ created/.test(text)) return;
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`turnserver exited (${child.exitCode ?? child.signalCode}):\n${text}`);
    }
    if (Date.now() > deadline) throw new Error(`turnserver did not open its listeners:\n${text}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill("SIGKILL"), 3_000);
    child.once("exit", () => {
      clearTimeout(force);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

function selfSignedCertificate(dir: string): string {
  const result = spawnSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    { encoding: "utf8" },
  );
  if (result.status !== 0) throw new Error(`openssl failed: ${result.stderr}`);
  return readFileSync(join(dir, "cert.pem"), "utf8");
}

function once(run: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => (done ??= run());
}
