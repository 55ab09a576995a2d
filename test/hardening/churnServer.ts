/**
 * The SFU for the churn test, in a process of its own (run with --expose-gc)
 * so that its file descriptors, UDP sockets, handles and heap are measured
 * apart from the test's clients. Prints `CHURN_SFU <url>` once listening and
 * answers `{ id, figures: { gc } }` IPC messages with `{ id, figures }`.
 */
import { createHook } from "node:async_hooks";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { startServer, type TestServer } from "../helpers/server.js";
import { sleep } from "../helpers/wait.js";

export interface Figures {
  fds: number;
  udpSockets: number;
  /** process.getActiveResourcesInfo(), counted by type. */
  resources: Record<string, number>;
  /** Where each pending timer that keeps the process alive was created: names a timer left behind. */
  timers: string[];
  rooms: number;
  peers: number;
  connections: number;
  heapMb: number;
}

/** Pending timers by async id, with the first frame outside Node's own code that created them. */
const timerSites = new Map<number, { timer: NodeJS.Timeout; site: string }>();
createHook({
  init(asyncId, type, _triggerAsyncId, resource) {
    if (type !== "Timeout") return;
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 30;
    const frames = (new Error().stack ?? "").split("\n").slice(1);
    Error.stackTraceLimit = limit;
    const site = frames.find((frame) => !frame.includes("node:") && !frame.includes("churnServer.ts"));
    timerSites.set(asyncId, { timer: resource as NodeJS.Timeout, site: site?.trim() ?? "unknown" });
  },
  destroy(asyncId) {
    timerSites.delete(asyncId);
  },
}).enable();

function udpInodes(): Set<string> {
  const inodes = new Set<string>();
  for (const file of ["/proc/net/udp", "/proc/net/udp6"]) {
    for (const line of readFileSync(file, "utf8").split("\n").slice(1)) {
      const inode = line.trim().split(/\s+/)[9];
      if (inode) inodes.add(inode);
    }
  }
  return inodes;
}

async function figures(server: TestServer, collect: boolean): Promise<Figures> {
  if (collect) {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) throw new Error("run with --expose-gc");
    // Several passes with pauses: werift and socket.io let go of some objects from timers.
    for (let i = 0; i < 6; i++) {
      gc();
      await sleep(100);
    }
  }
  const fds = readdirSync("/proc/self/fd");
  const udp = udpInodes();
  let udpSockets = 0;
  for (const fd of fds) {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1];
      if (inode && udp.has(inode)) udpSockets++;
    } catch {
      // The descriptor readdir used is closed by now.
    }
  }
  const resources: Record<string, number> = {};
  for (const type of process.getActiveResourcesInfo()) resources[type] = (resources[type] ?? 0) + 1;
  const { sfu, signaling } = server.application;
  return {
    fds: fds.length,
    udpSockets,
    resources,
    // A timer that fired or was cleared is marked _destroyed at once; its destroy hook runs later.
    timers: [...timerSites.values()]
      .filter(({ timer }) => timer.hasRef() && !(timer as { _destroyed?: boolean })._destroyed)
      .map(({ site }) => site),
    rooms: sfu.rooms.length,
    peers: sfu.peerCount,
    connections: signaling.connectionCount,
    heapMb: process.memoryUsage().heapUsed / 2 ** 20,
  };
}

const env = JSON.parse(process.env.CHURN_ENV ?? "{}") as Record<string, string>;
const server = await startServer(env);
process.on("message", (message: { id?: number; figures?: { gc: boolean } }) => {
  if (!message.figures) return;
  const { id } = message;
  figures(server, message.figures.gc).then(
    (result) => process.send?.({ id, figures: result }),
    (error: unknown) => process.send?.({ id, error: String(error) }),
  );
});
process.on("disconnect", () => {
  void server.close().then(() => process.exit(0));
});
process.stdout.write(`CHURN_SFU ${server.url}\n`);
