import { setTimeout as sleep } from "node:timers/promises";
import type { Cleanup } from "./Cleanup.js";
import { freePort, parsePrometheus } from "./http.js";
import type { ChildMessage, PeerSpec } from "./ipc.js";
import { LoadClientPool } from "./LoadClientPool.js";
import { percentile, type FillResult } from "./results.js";
import { TargetProcess, type TargetSpec } from "./TargetProcess.js";

type PeerReady = Extract<ChildMessage, { type: "peer-ready" }>;

/** Joins this far apart, none waiting for another: the "peers joining 100 ms apart". */
export const FILL_JOIN_GAP_MS = 100;
/**
 * Each peer sends a packet every 200 ms during the fill (5/s, a tenth of Opus' rate), so that a
 * full room of 100 forwards 49,500 packets/s, within what the machine carries beside its load
 * clients. Hearing a peer thus waits up to 200 ms for its next packet; the signaling part alone is
 * `tracksMs`.
 */
export const FILL_SEND_INTERVAL_MS = 200;
/** A newcomer that has not heard everyone by then is counted as incomplete. */
const FILL_READY_TIMEOUT_MS = 30_000;
/** Two processes share the peers (and the DTLS and SDP work of a hundred connections). */
const FILL_CLIENT_PROCESSES = 2;
const METRIC_LAG_P99 = "nodejs_eventloop_lag_p99_seconds";
const METRIC_LAG_MAX = "nodejs_eventloop_lag_max_seconds";

export interface RunFillOptions {
  target: TargetSpec;
  peers: number;
  batchClients: boolean;
  cleanup: Cleanup;
  log: (line: string) => void;
}

/**
 * Fills one room: peers join FILL_JOIN_GAP_MS apart without waiting for each other, each
 * publishing sparsely; measures how long each newcomer takes to hear everyone already there,
 * and the SDP the fill cost. The server is started fresh for it and stopped after.
 */
export async function runFill(options: RunFillOptions): Promise<FillResult> {
  const { target: spec, peers, cleanup, log } = options;
  let target: TargetProcess | undefined;
  let pool: LoadClientPool | undefined;
  let unregisterTarget = (): void => undefined;
  let unregisterPool = (): void => undefined;
  try {
    target = await TargetProcess.start(spec, await freePort());
    const started = target;
    unregisterTarget = cleanup.add(() => started.killNow());
    pool = await LoadClientPool.start({
      processes: FILL_CLIENT_PROCESSES,
      targetUrl: target.url,
      readyTimeoutMs: FILL_READY_TIMEOUT_MS,
      batch: options.batchClients,
    });
    const startedPool = pool;
    unregisterPool = cleanup.add(() => startedPool.killNow());

    // A scrape resets prom-client's event-loop monitor: the next one reads the fill alone.
    await target.scrape();
    const cpuBefore = target.sample().cpuMicros;
    const clientCpuBefore = startedPool.sample().cpuMicros;
    const fillStart = Date.now();
    const joins: Array<Promise<PeerReady>> = [];
    for (let k = 0; k < peers; k++) {
      const spec: PeerSpec = {
        index: k,
        roomId: "bench-fill",
        userId: `bench-fill-${k}`,
        expectFrom: Array.from({ length: k }, (_, j) => j),
        sendIntervalMs: FILL_SEND_INTERVAL_MS,
      };
      joins.push(pool.join(spec));
      await sleep(FILL_JOIN_GAP_MS);
    }
    const outcomes = await Promise.all(joins);
    const fillSeconds = (Date.now() - fillStart) / 1000;
    const cpuMicros = target.sample().cpuMicros - cpuBefore;
    const clientCpuMicros = startedPool.sample().cpuMicros - clientCpuBefore;
    const rssFullBytes = target.sample().rssBytes;
    if (!target.alive) throw new Error(`${spec.label} exited during the fill:\n${target.output}`);
    const lag = parsePrometheus(await target.scrape(), [METRIC_LAG_P99, METRIC_LAG_MAX]);
    const reports = await pool.reports();
    log(`    filled ${peers} peers in ${fillSeconds.toFixed(1)} s`);

    const newcomers = outcomes.filter((o) => o.index > 0);
    const hear = newcomers.filter((o) => o.joinMs !== null).map((o) => o.joinMs!);
    const lastTenth = newcomers
      .filter((o) => o.index >= peers - Math.max(1, Math.round(peers / 10)) && o.joinMs !== null)
      .map((o) => o.joinMs!);
    const tracks = newcomers.filter((o) => o.tracksMs !== null).map((o) => o.tracksMs!);
    const sum = (pick: (sdp: NonNullable<(typeof reports)[number]["sdp"]>) => number): number =>
      reports.reduce((total, report) => total + (report.sdp ? pick(report.sdp) : 0), 0);
    const errors = outcomes.map((o) => o.error).filter((e): e is string => e !== null);
    if (errors.length > 0) log(`    ${errors.length} peer errors, first: ${errors[0]}`);
    // Where a join's time goes with the room nearly full: the median of each step over the last tenth.
    const last = newcomers.filter((o) => o.index >= peers - Math.max(1, Math.round(peers / 10)));
    const steps = (["joined", "answered", "offered", "answeredOffer", "connected"] as const).map((phase) => {
      const values = last.map((o) => o.phasesMs[phase]).filter((v): v is number => v !== undefined);
      return `${phase} ${percentile(values, 0.5).toFixed(0)}`;
    });
    const heard = percentile(lastTenth, 0.5).toFixed(0);
    log(
      `    last tenth, join → each step, p50 (ms): ${steps.join(", ")}, tracks ${percentile(
        last.map((o) => o.tracksMs).filter((v): v is number => v !== null),
        0.5,
      ).toFixed(0)}, heard ${heard}`,
    );
    const clientLag = Math.max(...reports.map((r) => r.eventLoopP99Ms));
    log(
      `    load clients' event-loop delay p99 (their send timers, worst process): ${clientLag.toFixed(0)} ms`,
    );
    const serverWarnings = Object.fromEntries(target.warnings);
    for (const [message, count] of target.warnings) log(`    server warned ${count}×: ${message}`);
    return {
      target: spec.name,
      peers,
      joinGapMs: FILL_JOIN_GAP_MS,
      sendIntervalMs: FILL_SEND_INTERVAL_MS,
      hearMs: {
        p50: percentile(hear, 0.5),
        p95: percentile(hear, 0.95),
        max: hear.length > 0 ? Math.max(...hear) : Number.NaN,
        samples: hear.length,
      },
      lastTenthHearMs: { p50: percentile(lastTenth, 0.5), p95: percentile(lastTenth, 0.95) },
      tracksMs: { p50: percentile(tracks, 0.5), p95: percentile(tracks, 0.95) },
      incomplete: newcomers.filter((o) => o.joinMs === null).length,
      iceFailed: outcomes.filter((o) => !o.iceConnected).length,
      clientFailed: {
        ice: outcomes.filter((o) => o.failedIn === "ice").length,
        dtls: outcomes.filter((o) => o.failedIn === "dtls").length,
      },
      eventLoopDelayMs: {
        p99: (lag.get(METRIC_LAG_P99) ?? Number.NaN) * 1000,
        max: (lag.get(METRIC_LAG_MAX) ?? Number.NaN) * 1000,
      },
      serverWarnings,
      sdpFromServerBytes: sum((sdp) => sdp.fromServerBytes),
      sdpToServerBytes: sum((sdp) => sdp.toServerBytes),
      serverOffers: sum((sdp) => sdp.serverOffers),
      fillSeconds,
      cpuMicrosPerJoin: cpuMicros / peers,
      clientCpuMicrosPerJoin: clientCpuMicros / peers,
      rssFullBytes,
      error: null,
    };
  } finally {
    await pool?.close();
    unregisterPool();
    await target?.stop();
    unregisterTarget();
  }
}

/** A fill that could not run to the end. */
export function failedFill(target: TargetSpec, peers: number, error: unknown): FillResult {
  const nan = Number.NaN;
  return {
    target: target.name,
    peers,
    joinGapMs: FILL_JOIN_GAP_MS,
    sendIntervalMs: FILL_SEND_INTERVAL_MS,
    hearMs: { p50: nan, p95: nan, max: nan, samples: 0 },
    lastTenthHearMs: { p50: nan, p95: nan },
    tracksMs: { p50: nan, p95: nan },
    incomplete: 0,
    iceFailed: 0,
    clientFailed: { ice: 0, dtls: 0 },
    eventLoopDelayMs: { p99: nan, max: nan },
    serverWarnings: {},
    sdpFromServerBytes: nan,
    sdpToServerBytes: nan,
    serverOffers: nan,
    fillSeconds: nan,
    cpuMicrosPerJoin: nan,
    clientCpuMicrosPerJoin: nan,
    rssFullBytes: nan,
    error: error instanceof Error ? error.message : String(error),
  };
}
