import { loadavg } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { processUdpPorts, udpDrops, udpReceiveQueueBytes } from "../test/helpers/udpSockets.js";
import type { Cleanup } from "./Cleanup.js";
import type { TrackSnapshot } from "../lib/types.js";
import { freePort, httpGet, parsePrometheus } from "./http.js";
import type { ChildMessage, PeerSpec } from "./ipc.js";
import { LoadClientPool } from "./LoadClientPool.js";
import { nowMs } from "./payload.js";
import { machineBusyMicros } from "./procfs.js";
import { percentile, type OnePortScaleResult } from "./results.js";
import { connectivitySpec } from "./runScenario.js";
import { TargetProcess, type TargetSpec } from "./TargetProcess.js";

type PeerReady = Extract<ChildMessage, { type: "peer-ready" }>;

/** Rooms of 5: every peer hears 4 others, so the load grows with the peers, not with their square. */
const PEERS_PER_ROOM = 5;
/**
 * One packet per peer every 500 ms (a 25th of Opus' rate): 500 peers then forward 4,000 packets/s,
 * which this 2-core machine carries beside 500 werift clients; the run is about the port, not throughput.
 */
const SEND_INTERVAL_MS = 500;
/** Joins in flight at once: ICE and DTLS for each cost both sides a few ms of CPU, and all share 2 cores. */
const JOIN_CONCURRENCY = 10;
/** A peer not connected by then counts as not connected. */
const READY_TIMEOUT_MS = 30_000;
/** Four processes of 125 werift peers each. */
const CLIENT_PROCESSES = 4;
/** After the last join, before the window: the last peers' first packets and RTCP settle. */
const SETTLE_MS = 3000;
const WINDOW_LEAD_MS = 300;
const DRAIN_MS = 1000;
const METRIC_LAG_P99 = "nodejs_eventloop_lag_p99_seconds";
const METRIC_FORWARDED = "sfu_rtp_packets_forwarded_total";

export interface RunOnePortScaleOptions {
  /** The SFU with `connectivity: "one-port"`. */
  target: TargetSpec;
  peers: number;
  seconds: number;
  batchClients: boolean;
  cleanup: Cleanup;
  log: (line: string) => void;
}

/**
 * Joins `peers` werift peers, in rooms of PEERS_PER_ROOM, to an SFU whose every peer shares one UDP
 * port, JOIN_CONCURRENCY at a time, each publishing sparsely; then measures delivery over one window
 * and counts the UDP sockets the SFU process holds.
 */
export async function runOnePortScale(options: RunOnePortScaleOptions): Promise<OnePortScaleResult> {
  const { peers, seconds, cleanup, log } = options;
  const rooms = Math.ceil(peers / PEERS_PER_ROOM);
  let target: TargetProcess | undefined;
  let pool: LoadClientPool | undefined;
  let unregisterTarget = (): void => undefined;
  let unregisterPool = (): void => undefined;
  try {
    const spec = await connectivitySpec(options.target, undefined);
    const port = Number(spec.env.ICE_UDP_PORT);
    target = await TargetProcess.start(spec, await freePort());
    const started = target;
    unregisterTarget = cleanup.add(() => started.killNow());
    const rssIdleBytes = target.sample().rssBytes;
    pool = await LoadClientPool.start({
      processes: CLIENT_PROCESSES,
      targetUrl: target.url,
      readyTimeoutMs: READY_TIMEOUT_MS,
      batch: options.batchClients,
    });
    const startedPool = pool;
    unregisterPool = cleanup.add(() => startedPool.killNow());

    const cpuBefore = target.sample().cpuMicros;
    const joinStart = Date.now();
    const outcomes: PeerReady[] = [];
    let next = 0;
    const joinNext = async (): Promise<void> => {
      while (next < peers) {
        const index = next++;
        const room = Math.floor(index / PEERS_PER_ROOM);
        const spec: PeerSpec = {
          index,
          roomId: `bench-one-port-${room}`,
          userId: `bench-one-port-${index}`,
          // Ready once connected: hearing the others is measured over the window.
          expectFrom: [],
          sendIntervalMs: SEND_INTERVAL_MS,
        };
        const ready = await pool!.join(spec);
        outcomes.push(ready);
        if ((outcomes.length % 100 === 0 || outcomes.length === peers) && outcomes.length > 0) {
          const connected = outcomes.filter((o) => o.iceConnected).length;
          log(
            `    ${outcomes.length} joins done, ${connected} connected, ${((Date.now() - joinStart) / 1000).toFixed(1)} s`,
          );
        }
      }
    };
    await Promise.all(Array.from({ length: JOIN_CONCURRENCY }, joinNext));
    const joinPhaseSeconds = (Date.now() - joinStart) / 1000;
    const cpuJoinMicros = target.sample().cpuMicros - cpuBefore;
    if (!target.alive) throw new Error(`${spec.label} exited during the joins:\n${target.output}`);
    await sleep(SETTLE_MS);

    const startMs = nowMs() + WINDOW_LEAD_MS;
    const endMs = startMs + seconds * 1000;
    pool.measure(startMs, endMs);
    await sleep(startMs - nowMs());
    const serverBefore = target.sample();
    const clientsBefore = pool.sample();
    const machineBefore = machineBusyMicros();
    const dropsBefore = udpDrops(port);
    // Scraping resets prom-client's event-loop histogram, so the end scrape covers the window only.
    const metricsBefore = parsePrometheus(await target.scrape(), [METRIC_FORWARDED]);
    const tracksBefore = await forwarding(target.url);
    await sleep(endMs - nowMs());
    const serverAfter = target.sample();
    const clientsAfter = pool.sample();
    const machineAfter = machineBusyMicros();
    const tracksAfter = await forwarding(target.url);
    const metricsAfter = parsePrometheus(await target.scrape(), [METRIC_LAG_P99, METRIC_FORWARDED]);
    const lagP99 = metricsAfter.get(METRIC_LAG_P99);
    const forwardedBefore = metricsBefore.get(METRIC_FORWARDED);
    const forwardedAfter = metricsAfter.get(METRIC_FORWARDED);
    const loadAverage = loadavg()[0]!;
    const ports = processUdpPorts(target.pid);
    const kernelDropsTotal = udpDrops(port);
    const receiveQueueBytes = udpReceiveQueueBytes(port);
    await sleep(DRAIN_MS);
    const reports = await pool.reports();
    if (!target.alive) throw new Error(`${spec.label} exited during the window:\n${target.output}`);

    let sent = 0;
    let expected = 0;
    let delivered = 0;
    let corrupt = 0;
    for (const report of reports) {
      for (const [, count] of report.sentBySender) sent += count;
      for (const [, count] of report.sentBySender) expected += count * (PEERS_PER_ROOM - 1);
      delivered += report.received;
      corrupt += report.corrupt;
    }
    const windowMicros = seconds * 1e6;
    const serverCpu = serverAfter.cpuMicros - serverBefore.cpuMicros;
    const clientCpu = clientsAfter.cpuMicros - clientsBefore.cpuMicros;
    const connectTimes = outcomes.filter((o) => o.connectedMs !== null).map((o) => o.connectedMs!);
    return {
      peers,
      rooms,
      peersPerRoom: PEERS_PER_ROOM,
      joinConcurrency: JOIN_CONCURRENCY,
      sendIntervalMs: SEND_INTERVAL_MS,
      connected: outcomes.filter((o) => o.iceConnected).length,
      connectMs: {
        p50: percentile(connectTimes, 0.5),
        p95: percentile(connectTimes, 0.95),
        max: connectTimes.length > 0 ? Math.max(...connectTimes) : Number.NaN,
      },
      joinPhaseSeconds,
      errors: tally(outcomes),
      seconds,
      expected,
      delivered,
      deliveryRatio: expected > 0 ? delivered / expected : 0,
      sent,
      serverReceived: tracksAfter.received - tracksBefore.received,
      tracks: tracksAfter.tracks,
      subscriptions: tracksAfter.subscribers,
      serverForwarded:
        forwardedBefore !== undefined && forwardedAfter !== undefined
          ? forwardedAfter - forwardedBefore
          : Number.NaN,
      corrupt,
      udpSockets: ports.length,
      udpSocketsOnPort: ports.filter((p) => p === port).length,
      kernelDrops: kernelDropsTotal - dropsBefore,
      kernelDropsTotal,
      receiveQueueBytes,
      rssIdleBytes,
      rssFullBytes: serverAfter.rssBytes,
      cpuMsPerJoin: cpuJoinMicros / 1000 / peers,
      serverCpuPercent: (serverCpu / windowMicros) * 100,
      clientCpuPercent: (clientCpu / windowMicros) * 100,
      otherCpuPercent:
        (Math.max(0, machineAfter - machineBefore - serverCpu - clientCpu) / windowMicros) * 100,
      eventLoopP99Ms: lagP99 === undefined ? Number.NaN : lagP99 * 1000,
      loadAverage,
      error: null,
    };
  } finally {
    await pool?.close();
    unregisterPool();
    await target?.stop();
    unregisterTarget();
  }
}

/** The SFU's published tracks, their subscribers, and the packets they received so far (`/debug/tracks`). */
async function forwarding(url: string): Promise<{ tracks: number; subscribers: number; received: number }> {
  const { status, body } = await httpGet(`${url}/debug/tracks`, 10_000);
  if (status !== 200) return { tracks: Number.NaN, subscribers: Number.NaN, received: Number.NaN };
  const { tracks } = JSON.parse(body) as { tracks: TrackSnapshot[] };
  return {
    tracks: tracks.length,
    subscribers: tracks.reduce((sum, track) => sum + track.subscribers, 0),
    received: tracks.reduce((sum, track) => sum + track.packetsReceived, 0),
  };
}

/** Peers that did not connect, by error (or "not connected in time"), most frequent first. */
function tally(outcomes: readonly PeerReady[]): Array<{ error: string; peers: number }> {
  const counts = new Map<string, number>();
  for (const outcome of outcomes) {
    if (outcome.iceConnected && outcome.error === null) continue;
    const error = outcome.error ?? `not connected within ${READY_TIMEOUT_MS / 1000} s`;
    counts.set(error, (counts.get(error) ?? 0) + 1);
  }
  return [...counts]
    .map(([error, peers]) => ({ error, peers }))
    .sort((a, b) => b.peers - a.peers)
    .slice(0, 5);
}

/** A scale run that could not run to the end. */
export function failedOnePortScale(peers: number, seconds: number, error: unknown): OnePortScaleResult {
  const nan = Number.NaN;
  return {
    peers,
    rooms: Math.ceil(peers / PEERS_PER_ROOM),
    peersPerRoom: PEERS_PER_ROOM,
    joinConcurrency: JOIN_CONCURRENCY,
    sendIntervalMs: SEND_INTERVAL_MS,
    connected: 0,
    connectMs: { p50: nan, p95: nan, max: nan },
    joinPhaseSeconds: nan,
    errors: [],
    seconds,
    expected: 0,
    delivered: 0,
    deliveryRatio: 0,
    sent: 0,
    serverReceived: nan,
    tracks: nan,
    subscriptions: nan,
    serverForwarded: nan,
    corrupt: 0,
    udpSockets: nan,
    udpSocketsOnPort: nan,
    kernelDrops: nan,
    kernelDropsTotal: nan,
    receiveQueueBytes: nan,
    rssIdleBytes: nan,
    rssFullBytes: nan,
    cpuMsPerJoin: nan,
    serverCpuPercent: nan,
    clientCpuPercent: nan,
    otherCpuPercent: nan,
    eventLoopP99Ms: nan,
    loadAverage: nan,
    error: error instanceof Error ? error.message : String(error),
  };
}
