import { setTimeout as sleep } from "node:timers/promises";
import { RedisServer } from "../test/helpers/RedisServer.js";
import type { Cleanup } from "./Cleanup.js";
import { freePort, httpGet, parsePrometheus } from "./http.js";
import type { ClientReport, PeerSpec } from "./ipc.js";
import { LatencyHistogram } from "./LatencyHistogram.js";
import { LoadClientPool } from "./LoadClientPool.js";
import { nowMs } from "./payload.js";
import { machineBusyMicros } from "./procfs.js";
import { percentile, type ClusterNodeResult, type ClusterResult, type Scenario } from "./results.js";
import {
  clientProcessesFor,
  DRAIN_MS,
  IDLE_SETTLE_MS,
  METRIC_FORWARDED,
  UNWAITED_JOIN_GAP_MS,
  WINDOW_LEAD_MS,
  warmupMs,
} from "./runScenario.js";
import { TargetProcess, type TargetSpec } from "./TargetProcess.js";

/** The scenario's name says it: three nodes. */
export const CLUSTER_NODES = 3;
/**
 * Between two rooms' first joins: more than a heartbeat (1.5 s, lib/cluster/NodeRegistry.ts), so
 * that the placement of the next room sees the peer the last one put on its node.
 */
const PLACEMENT_GAP_MS = 2000;
/** Every node has seen the others' heartbeats within this long of starting. */
const CLUSTER_FORM_TIMEOUT_MS = 15_000;
const METRIC_LAG_P99 = "nodejs_eventloop_lag_p99_seconds";

export interface RunClusterOptions {
  /** The single-node SFU's spec: each node runs the same command with REDIS_URL and NODE_ID added. */
  target: TargetSpec;
  scenario: Scenario;
  seconds: number;
  clientProcesses: number;
  batchClients: boolean;
  readyTimeoutMs: number;
  cleanup: Cleanup;
  log: (line: string) => void;
}

interface ClusterJoin {
  index: number;
  room: number;
  /** The node this peer's socket went to, and the node its room runs on. */
  socketNode: number;
  roomNode: number;
  expected: number;
  joinMs: number | null;
  iceConnected: boolean;
  error: string | null;
}

/**
 * The `3 nodes` scenario: a redis-server and three SFU nodes on loopback,
 * rooms placed by the cluster one after another (so that placement sees each
 * node's load), then the remaining peers of each room connecting their
 * sockets to the nodes in turn, so that some sessions signal through their
 * room's node and the others are relayed by another node over Redis.
 */
export async function runCluster(options: RunClusterOptions): Promise<ClusterResult> {
  const { scenario, seconds, cleanup, log } = options;
  const forget: Array<() => void> = [];
  const nodes: TargetProcess[] = [];
  let redis: RedisServer | undefined;
  let pool: LoadClientPool | undefined;
  try {
    redis = await RedisServer.start();
    const started = redis;
    forget.push(cleanup.add(() => void started.stop()));
    for (let n = 0; n < CLUSTER_NODES; n++) {
      const nodeId = `bench-node-${n + 1}`;
      const spec: TargetSpec = {
        ...options.target,
        name: nodeId,
        label: nodeId,
        env: { ...options.target.env, REDIS_URL: redis.url, NODE_ID: nodeId },
      };
      const node = await TargetProcess.start(spec, await freePort());
      nodes.push(node);
      forget.push(cleanup.add(() => node.killNow()));
    }
    await waitForCluster(nodes);
    await sleep(IDLE_SETTLE_MS);
    const idle = nodes.map((node) => node.sample());

    const clientProcesses = clientProcessesFor(scenario, options.clientProcesses);
    pool = await LoadClientPool.start({
      processes: clientProcesses,
      targetUrl: nodes[0]!.url,
      readyTimeoutMs: options.readyTimeoutMs,
      batch: options.batchClients,
    });
    const startedPool = pool;
    forget.push(cleanup.add(() => startedPool.killNow()));

    const joinStart = Date.now();
    const joins = await joinSpread(pool, scenario, nodes);
    log(`    joined ${joins.length} peers in ${((Date.now() - joinStart) / 1000).toFixed(1)} s`);
    const nodeIds = nodes.map((node) => node.spec.name);
    log(
      `    rooms per node: ${nodeIds
        .map(
          (id, n) =>
            `${id} ${joins.filter((j) => j.roomNode === n && j.index % scenario.peersPerRoom === 0).length}`,
        )
        .join(
          ", ",
        )}; sockets relayed: ${joins.filter((j) => j.socketNode !== j.roomNode).length} of ${joins.length}`,
    );
    await sleep(warmupMs(scenario));
    for (const node of nodes) if (!node.alive) throw new Error(`${node.spec.name} exited:\n${node.output}`);

    const startMs = nowMs() + WINDOW_LEAD_MS;
    const endMs = startMs + seconds * 1000;
    pool.measure(startMs, endMs);
    await sleep(startMs - nowMs());
    const before = nodes.map((node) => node.sample());
    const clientsBefore = pool.sample();
    const machineBefore = machineBusyMicros();
    const metricsBefore = await Promise.all(nodes.map(async (node) => scrapeWindow(node)));
    await sleep(endMs - nowMs());
    const after = nodes.map((node) => node.sample());
    const clientsAfter = pool.sample();
    const machineAfter = machineBusyMicros();
    const metricsAfter = await Promise.all(nodes.map(async (node) => scrapeWindow(node)));
    await sleep(DRAIN_MS);
    const reports = await pool.reports();
    for (const node of nodes)
      if (!node.alive) throw new Error(`${node.spec.name} exited during the run:\n${node.output}`);

    const windowMicros = seconds * 1e6;
    const perRoom = deliveryByRoom(reports, scenario);
    const nodeResults = nodes.map((node, n): ClusterNodeResult => {
      const rooms = [...new Set(joins.filter((j) => j.roomNode === n).map((j) => j.room))];
      const expected = rooms.reduce((sum, room) => sum + (perRoom.expected[room] ?? 0), 0);
      const delivered = rooms.reduce((sum, room) => sum + (perRoom.delivered[room] ?? 0), 0);
      const cpu = after[n]!.cpuMicros - before[n]!.cpuMicros;
      const forwardedBefore = metricsBefore[n]!.get(METRIC_FORWARDED);
      const forwardedAfter = metricsAfter[n]!.get(METRIC_FORWARDED);
      const lag = metricsAfter[n]!.get(METRIC_LAG_P99);
      return {
        nodeId: nodeIds[n]!,
        rooms: rooms.length,
        peers: joins.filter((j) => j.roomNode === n).length,
        sockets: joins.filter((j) => j.socketNode === n).length,
        expected,
        delivered,
        deliveryRatio: expected > 0 ? delivered / expected : Number.NaN,
        forwardedPerSecond: delivered / seconds,
        cpuMicrosPerPacket: delivered > 0 ? cpu / delivered : Number.NaN,
        serverCpuPercent: (cpu / windowMicros) * 100,
        serverCountedForwards:
          forwardedBefore !== undefined && forwardedAfter !== undefined
            ? forwardedAfter - forwardedBefore
            : null,
        rssIdleBytes: idle[n]!.rssBytes,
        rssLoadedBytes: after[n]!.rssBytes,
        eventLoopP99Ms: lag === undefined ? Number.NaN : lag * 1000,
      };
    });
    const expected = nodeResults.reduce((sum, node) => sum + node.expected, 0);
    const delivered = nodeResults.reduce((sum, node) => sum + node.delivered, 0);
    const serverCpu = after.reduce((sum, sample, n) => sum + sample.cpuMicros - before[n]!.cpuMicros, 0);
    const clientCpu = clientsAfter.cpuMicros - clientsBefore.cpuMicros;
    const latency = new LatencyHistogram();
    for (const report of reports) latency.merge(report.latency);
    const joinTimes = (relayed: boolean): number[] =>
      joins
        .filter((j) => j.expected > 0 && j.joinMs !== null && (j.socketNode !== j.roomNode) === relayed)
        .map((j) => j.joinMs!);
    const joinSummary = (times: number[]) => ({
      p50: percentile(times, 0.5),
      p95: percentile(times, 0.95),
      samples: times.length,
    });
    const errors = joins.map((j) => j.error).filter((e): e is string => e !== null);
    if (errors.length > 0) log(`    ${errors.length} peer errors, first: ${errors[0]}`);
    return {
      scenario,
      seconds,
      nodes: nodeResults,
      expected,
      delivered,
      deliveryRatio: expected > 0 ? delivered / expected : 0,
      forwardedPerSecond: delivered / seconds,
      cpuMicrosPerPacket: delivered > 0 ? serverCpu / delivered : Number.NaN,
      latencyMs: {
        p50: latency.percentile(0.5),
        p95: latency.percentile(0.95),
        p99: latency.percentile(0.99),
      },
      directJoinMs: joinSummary(joinTimes(false)),
      relayedJoinMs: joinSummary(joinTimes(true)),
      joinIncomplete: joins.filter((j) => j.expected > 0 && j.joinMs === null).length,
      iceFailed: joins.filter((j) => !j.iceConnected).length,
      corrupt: reports.reduce((sum, report) => sum + report.corrupt, 0),
      clientCpuPercent: (clientCpu / windowMicros) * 100,
      otherCpuPercent:
        (Math.max(0, machineAfter - machineBefore - serverCpu - clientCpu) / windowMicros) * 100,
      error: null,
    };
  } finally {
    await pool?.close();
    // SIGTERM: each node drains and deregisters while Redis is still there.
    await Promise.all(nodes.map((node) => node.stop()));
    await redis?.stop();
    for (const unregister of forget) unregister();
  }
}

/** Waits until every node lists all of them in `GET /debug/nodes`: placement can choose among the three. */
async function waitForCluster(nodes: readonly TargetProcess[]): Promise<void> {
  const deadline = Date.now() + CLUSTER_FORM_TIMEOUT_MS;
  for (;;) {
    const counts = await Promise.all(
      nodes.map(async (node) => {
        const { status, body } = await httpGet(`${node.url}/debug/nodes`);
        return status === 200 ? (JSON.parse(body) as { nodes: unknown[] }).nodes.length : 0;
      }),
    );
    if (counts.every((count) => count === nodes.length)) return;
    if (Date.now() > deadline)
      throw new Error(
        `the nodes did not see each other within ${CLUSTER_FORM_TIMEOUT_MS} ms (${counts.join(", ")})`,
      );
    await sleep(200);
  }
}

/**
 * Each room's first peer joins through node `room mod 3`, one room at a time
 * PLACEMENT_GAP_MS apart; then the rooms fill in parallel, peer k of room r
 * through node `(r + k) mod 3`, each waiting for the one before (as in
 * runScenario's joinAll).
 */
async function joinSpread(
  pool: LoadClientPool,
  scenario: Scenario,
  nodes: readonly TargetProcess[],
): Promise<ClusterJoin[]> {
  const spec = (room: number, k: number): PeerSpec => {
    const index = room * scenario.peersPerRoom + k;
    return {
      index,
      roomId: `bench-room-${room}`,
      userId: `bench-user-${index}`,
      expectFrom: Array.from({ length: k }, (_, j) => room * scenario.peersPerRoom + j),
      url: nodes[(room + k) % nodes.length]!.url,
    };
  };
  const join = async (room: number, k: number): Promise<Omit<ClusterJoin, "roomNode">> => {
    const ready = await pool.join(spec(room, k));
    return {
      index: room * scenario.peersPerRoom + k,
      room,
      socketNode: (room + k) % nodes.length,
      expected: k,
      joinMs: ready.joinMs,
      iceConnected: ready.iceConnected,
      error: ready.error,
    };
  };
  const firsts: Array<Omit<ClusterJoin, "roomNode">> = [];
  for (let room = 0; room < scenario.rooms; room++) {
    firsts.push(await join(room, 0));
    if (room < scenario.rooms - 1) await sleep(PLACEMENT_GAP_MS);
  }
  const placement = await readPlacement(nodes);
  const roomNode = (room: number): number => {
    const node = placement.get(`bench-room-${room}`);
    if (node === undefined) throw new Error(`bench-room-${room} is placed on no node after its first join`);
    return node;
  };
  const rest = await Promise.all(
    Array.from({ length: scenario.rooms }, async (_, room) => {
      const outcomes: Array<Promise<Omit<ClusterJoin, "roomNode">>> = [];
      let waitForEach = true;
      for (let k = 1; k < scenario.peersPerRoom; k++) {
        const outcome = join(room, k);
        outcomes.push(outcome);
        // After a peer that never heard everyone, the rest of the room joins without waiting.
        if (waitForEach) {
          if ((await outcome).joinMs === null) waitForEach = false;
        } else {
          await sleep(UNWAITED_JOIN_GAP_MS);
        }
      }
      return Promise.all(outcomes);
    }),
  );
  return [...firsts, ...rest.flat()].map((j) => ({ ...j, roomNode: roomNode(j.room) }));
}

/** Which node each room runs on, as the cluster's `/debug/rooms` says (node index by NODE_ID). */
async function readPlacement(nodes: readonly TargetProcess[]): Promise<Map<string, number>> {
  const { status, body } = await httpGet(`${nodes[0]!.url}/debug/rooms`);
  if (status !== 200) throw new Error(`GET /debug/rooms answered ${status}`);
  const { rooms } = JSON.parse(body) as { rooms: Array<{ roomId: string; nodeId?: string }> };
  const placement = new Map<string, number>();
  for (const room of rooms) {
    const node = nodes.findIndex((candidate) => candidate.spec.name === room.nodeId);
    if (node >= 0) placement.set(room.roomId, node);
  }
  return placement;
}

/** The window's metrics of one node. */
async function scrapeWindow(node: TargetProcess): Promise<Map<string, number>> {
  return parsePrometheus(await node.scrape(), [METRIC_FORWARDED, METRIC_LAG_P99]);
}

/** Packets owed to and received by the receivers of each room (index = room number). */
function deliveryByRoom(
  reports: readonly ClientReport[],
  scenario: Scenario,
): { expected: number[]; delivered: number[] } {
  const expected: number[] = Array.from({ length: scenario.rooms }, () => 0);
  const delivered: number[] = Array.from({ length: scenario.rooms }, () => 0);
  const roomOf = (sender: number): number => Math.floor(sender / scenario.peersPerRoom);
  for (const report of reports) {
    for (const [sender, sent] of report.sentBySender)
      expected[roomOf(sender)]! += sent * (scenario.peersPerRoom - 1);
    for (const [sender, received] of report.receivedBySender ?? []) delivered[roomOf(sender)]! += received;
  }
  return { expected, delivered };
}
