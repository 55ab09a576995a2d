import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Cleanup } from "./Cleanup.js";
import { freePort, parsePrometheus, parsePrometheusByLabel } from "./http.js";
import type { ClientReport, PeerSpec } from "./ipc.js";
import { LatencyHistogram } from "./LatencyHistogram.js";
import { LoadClientPool } from "./LoadClientPool.js";
import { nowMs } from "./payload.js";
import { startCoturn, type Coturn } from "../test/helpers/coturnServer.js";
import { freeUdpPort } from "../test/helpers/udpSockets.js";
import { machineBusyMicros, sampleTree } from "./procfs.js";
import {
  nominalForwardedPerSecond,
  percentile,
  publishersPerRoom,
  type HeapGrowth,
  type Scenario,
  type ScenarioResult,
} from "./results.js";
import { TargetProcess, type TargetSpec } from "./TargetProcess.js";
import { ThreadMeter } from "./threads.js";

export interface RunScenarioOptions {
  target: TargetSpec;
  scenario: Scenario;
  seconds: number;
  /** At most this many load-client processes; see clientProcessesFor. */
  clientProcesses: number;
  batchClients: boolean;
  readyTimeoutMs: number;
  /** Profile the load clients too, into `<profileDir>/<target>-clients`. */
  profileDir: string | undefined;
  /** After the window, measure the server with every peer connected and silent. */
  silentPhase: boolean;
  cleanup: Cleanup;
  log: (line: string) => void;
}

/**
 * Let the idle server settle before reading its baseline memory: V8's memory
 * reducer frees start-up garbage (module loading, transpiling) about 8 s in,
 * 15-20 MB for the SFU. A baseline read before that would count it as idle
 * memory and understate the memory per peer.
 */
export const IDLE_SETTLE_MS = 10_000;
/**
 * Then the idle server's CPU is read over this long. Not within the settle time: the memory reducer's
 * collection about 8 s in costs some 100 ms of CPU, which would swamp a few ms per s of idle timers.
 */
const IDLE_CPU_MS = 5000;
/**
 * After the last join, before measuring. CPU in the first seconds after a join runs well above steady
 * state (JIT, collecting join garbage, the ICE/DTLS tail): the window measures forwarding, join time the join.
 * V8 tiers a function up by how often it runs, so the wait is the time to forward about WARMUP_PACKETS,
 * within [WARMUP_MIN_MS, WARMUP_MAX_MS]; the measurements behind it are in PERFORMANCE.md's "Running the bench".
 */
const WARMUP_PACKETS = 100_000;
const WARMUP_MIN_MS = 5000;
const WARMUP_MAX_MS = 20_000;

/**
 * Forwarded packets per second one load-client process receives before a
 * second one starts (about 30 % of a core here): every process a server's
 * send wakes costs both sides a wake-up (measured in PERFORMANCE.md's
 * "Keeping the load clients cheap").
 */
const PACKETS_PER_CLIENT_PROCESS = 40_000;
/** Lead time so every process has the window before it opens. */
export const WINDOW_LEAD_MS = 300;
/** Packets sent at the end of the window still in flight. */
export const DRAIN_MS = 1000;
/**
 * The silent phase: once the peers stop sending, the last packets and the
 * RTCP about them settle for SILENT_SETTLE_MS, then the server's CPU is read
 * over SILENT_CPU_MS. What is left is the cost of holding the connections:
 * ICE consent, RTCP, timers.
 */
const SILENT_SETTLE_MS = 2000;
const SILENT_CPU_MS = 5000;
/** Past this, remaining peers are started without waiting for the previous one. */
const JOIN_PHASE_MAX_MS = 90_000;
/** Spacing of joins that do not wait for the previous peer. */
export const UNWAITED_JOIN_GAP_MS = 100;

const METRIC_LAG_P99 = "nodejs_eventloop_lag_p99_seconds";
export const METRIC_FORWARDED = "sfu_rtp_packets_forwarded_total";
/** What the window reads from `/metrics` at its start and end. */
const WINDOW_METRICS = [METRIC_LAG_P99, METRIC_FORWARDED];

interface JoinOutcome {
  expected: number;
  joinMs: number | null;
  iceConnected: boolean;
  error: string | null;
}

/**
 * Runs one scenario against one target, from process start to teardown:
 * start the server, start the load clients, join room by room (peers in a room
 * one after another, rooms in parallel), warm up, measure one window, collect.
 */
export async function runScenario(options: RunScenarioOptions): Promise<ScenarioResult> {
  const { target: spec, scenario, seconds, cleanup, log } = options;
  let target: TargetProcess | undefined;
  let pool: LoadClientPool | undefined;
  const forgetTarget = (): void => undefined;
  let unregisterTarget = forgetTarget;
  let unregisterPool = forgetTarget;
  let turn: Coturn | undefined;
  try {
    const joinTokens = scenario.speakers === undefined ? undefined : new AudienceTokens();
    if (spec.connectivity === "relay") turn = await startCoturn();
    const startSpec = await connectivitySpec(joinTokens ? joinTokens.targetSpec(spec) : spec, turn);
    target = await TargetProcess.start(startSpec, await freePort());
    const started = target;
    unregisterTarget = cleanup.add(() => started.killNow());
    await sleep(IDLE_SETTLE_MS);
    const idleHeap = heapSpaces(await target.scrape());
    const idle = target.sample();
    const idleAfterGc = await target.sampleAfterGc();
    const idleCpu = target.onCpuMicros();
    await sleep(IDLE_CPU_MS);
    const idleCpuMsPerSecond = (target.onCpuMicros() - idleCpu) / IDLE_CPU_MS;
    const threads = new ThreadMeter(target.pid, spec.forwardingThreads);
    // Every event loop of an idle server waits in epoll: this reading is what tells them from helpers.
    threads.sample();

    const clientProcesses = clientProcessesFor(scenario, options.clientProcesses);
    pool = await LoadClientPool.start({
      processes: clientProcesses,
      targetUrl: target.url,
      readyTimeoutMs: options.readyTimeoutMs,
      batch: options.batchClients,
      profileDir: options.profileDir && resolve(options.profileDir, `${spec.name}-clients`),
    });
    const startedPool = pool;
    unregisterPool = cleanup.add(() => startedPool.killNow());

    const joinStart = Date.now();
    const outcomes = await joinAll(pool, scenario, joinStart + JOIN_PHASE_MAX_MS, joinTokens);
    log(`    joined ${outcomes.length} peers in ${((Date.now() - joinStart) / 1000).toFixed(1)} s`);
    await sleep(warmupMs(scenario));
    if (!target.alive) throw new Error(`${spec.label} exited:\n${target.output}`);

    const startMs = nowMs() + WINDOW_LEAD_MS;
    const endMs = startMs + seconds * 1000;
    pool.measure(startMs, endMs);
    await sleep(startMs - nowMs());
    const serverBefore = target.sample();
    const threadsBefore = threads.sample();
    const clientsBefore = pool.sample();
    const turnBefore = turn && sampleTree([turn.pid]);
    const machineBefore = machineBusyMicros();
    // Scraping resets prom-client's event-loop histogram, so the end scrape covers the window only.
    const metricsBefore = parsePrometheus(await target.scrape(), WINDOW_METRICS);
    await sleep(endMs - nowMs());
    const serverAfter = target.sample();
    const threadsAfter = threads.sample();
    const clientsAfter = pool.sample();
    const turnAfter = turn && sampleTree([turn.pid]);
    const machineAfter = machineBusyMicros();
    const exposition = await target.scrape();
    const metricsAfter = parsePrometheus(exposition, WINDOW_METRICS);
    const loadedHeap = heapSpaces(exposition);
    await sleep(DRAIN_MS);
    const reports = await pool.reports();
    // Every peer is still connected: what they hold once the window's garbage is gone.
    const loadedAfterGc = await target.sampleAfterGc();
    if (!target.alive) throw new Error(`${spec.label} exited during the run:\n${target.output}`);
    let silentCpuMsPerSecond: number | undefined;
    if (options.silentPhase) {
      pool.silence();
      await sleep(SILENT_SETTLE_MS);
      const silentBefore = target.onCpuMicros();
      await sleep(SILENT_CPU_MS);
      silentCpuMsPerSecond = (target.onCpuMicros() - silentBefore) / SILENT_CPU_MS;
    }

    const totals = summarize(reports, scenario);
    const windowMicros = seconds * 1e6;
    const serverCpu = serverAfter.cpuMicros - serverBefore.cpuMicros;
    const clientCpu = clientsAfter.cpuMicros - clientsBefore.cpuMicros;
    const turnCpu = turnBefore && turnAfter ? turnAfter.cpuMicros - turnBefore.cpuMicros : 0;
    const otherCpu = Math.max(0, machineAfter - machineBefore - serverCpu - clientCpu - turnCpu);
    const joinTimes = outcomes.filter((o) => o.expected > 0 && o.joinMs !== null).map((o) => o.joinMs!);
    const peers = scenario.rooms * scenario.peersPerRoom;
    const forwardedBefore = metricsBefore.get(METRIC_FORWARDED);
    const forwardedAfter = metricsAfter.get(METRIC_FORWARDED);
    const lagP99 = metricsAfter.get(METRIC_LAG_P99);
    const errors = outcomes.map((o) => o.error).filter((e): e is string => e !== null);
    if (errors.length > 0) log(`    ${errors.length} peer errors, first: ${errors[0]}`);
    return {
      target: spec.name,
      scenario,
      peers,
      seconds,
      expected: totals.expected,
      delivered: totals.delivered,
      deliveryRatio: totals.expected > 0 ? totals.delivered / totals.expected : 0,
      forwardedPerSecond: totals.delivered / seconds,
      cpuMicrosPerPacket: totals.delivered > 0 ? serverCpu / totals.delivered : Number.NaN,
      systemMicrosPerPacket:
        totals.delivered > 0
          ? (serverAfter.systemMicros - serverBefore.systemMicros) / totals.delivered
          : Number.NaN,
      serverCpuPercent: (serverCpu / windowMicros) * 100,
      latencyMs: {
        p50: totals.latency.percentile(0.5),
        p95: totals.latency.percentile(0.95),
        p99: totals.latency.percentile(0.99),
      },
      joinMs: {
        p50: percentile(joinTimes, 0.5),
        p95: percentile(joinTimes, 0.95),
        samples: joinTimes.length,
      },
      joinIncomplete: outcomes.filter((o) => o.expected > 0 && o.joinMs === null).length,
      iceFailed: outcomes.filter((o) => !o.iceConnected).length,
      corrupt: totals.corrupt,
      outOfOrder: totals.outOfOrder,
      unknownStreamTracks: totals.unknownStreamTracks,
      idleCpuMsPerSecond,
      ...(silentCpuMsPerSecond === undefined ? {} : { silentCpuMsPerSecond }),
      rssIdleBytes: idle.rssBytes,
      rssLoadedBytes: serverAfter.rssBytes,
      rssPerPeerBytes: (serverAfter.rssBytes - idle.rssBytes) / peers,
      ...(idleAfterGc && loadedAfterGc
        ? {
            rssIdleAfterGcBytes: idleAfterGc.rssBytes,
            rssPerPeerAfterGcBytes: (loadedAfterGc.rssBytes - idleAfterGc.rssBytes) / peers,
          }
        : {}),
      ...heapGrowth(idleHeap, loadedHeap),
      eventLoopP99Ms: lagP99 === undefined ? Number.NaN : lagP99 * 1000,
      clientProcesses,
      clientCpuPercent: (clientCpu / windowMicros) * 100,
      clientCpuMicrosPerPacket: totals.delivered > 0 ? clientCpu / totals.delivered : Number.NaN,
      otherCpuPercent: (otherCpu / windowMicros) * 100,
      clientEventLoopP99Ms: Math.max(...reports.map((r) => r.eventLoopP99Ms)),
      ...(turn && {
        turnServer: {
          cpuMicrosPerPacket: totals.delivered > 0 ? turnCpu / totals.delivered : Number.NaN,
          cpuPercent: (turnCpu / windowMicros) * 100,
          relayedPeers: relayedPeers(exposition),
        },
      }),
      serverCountedForwards:
        forwardedBefore !== undefined && forwardedAfter !== undefined
          ? forwardedAfter - forwardedBefore
          : null,
      ...(threadsBefore && threadsAfter
        ? { threadCpu: threads.cpuBetween(threadsBefore, threadsAfter, windowMicros) }
        : {}),
      error: null,
    };
  } finally {
    await pool?.close();
    unregisterPool();
    await target?.stop();
    unregisterTarget();
    await turn?.stop();
  }
}

/**
 * The target's environment for its connectivity variant: the coturn's URL and secret for `relay`
 * (TURN over UDP, the cheapest way to the relay), a UDP port free now for `one-port`.
 */
export async function connectivitySpec(spec: TargetSpec, turn: Coturn | undefined): Promise<TargetSpec> {
  if (spec.connectivity === "relay" && turn)
    return { ...spec, env: { ...spec.env, TURN_URLS: turn.url("udp"), TURN_SECRET: turn.secret } };
  if (spec.connectivity === "one-port")
    return { ...spec, env: { ...spec.env, ICE_UDP_PORT: String(await freeUdpPort()) } };
  return spec;
}

/**
 * Joins every room in parallel, the peers of a room one at a time. In the audience scenario
 * the speakers join first; a listener expects to hear the speakers only.
 */
async function joinAll(
  pool: LoadClientPool,
  scenario: Scenario,
  deadline: number,
  tokens: AudienceTokens | undefined,
): Promise<JoinOutcome[]> {
  const rooms = Array.from({ length: scenario.rooms }, async (_, room) => {
    const outcomes: Array<Promise<JoinOutcome>> = [];
    const roomId = `bench-room-${room}`;
    let waitForEach = true;
    for (let k = 0; k < scenario.peersPerRoom; k++) {
      const index = room * scenario.peersPerRoom + k;
      const speakers = Math.min(k, publishersPerRoom(scenario));
      const userId = `bench-user-${index}`;
      const listenOnly = k >= publishersPerRoom(scenario);
      const spec: PeerSpec = {
        index,
        roomId,
        userId,
        expectFrom: Array.from({ length: speakers }, (_, j) => room * scenario.peersPerRoom + j),
        ...(listenOnly ? { listenOnly: true } : {}),
        ...(tokens && { token: await tokens.mint(userId, !listenOnly) }),
      };
      const outcome = pool.join(spec).then((ready) => ({
        expected: speakers,
        joinMs: ready.joinMs,
        iceConnected: ready.iceConnected,
        error: ready.error,
      }));
      outcomes.push(outcome);
      // Once a peer of this room timed out, or past the deadline, the rest join without
      // waiting for each other, so a broken target cannot stall the run.
      if (waitForEach && Date.now() < deadline) {
        const joined = await outcome;
        if (joined.expected > 0 && joined.joinMs === null) waitForEach = false;
      } else {
        await sleep(UNWAITED_JOIN_GAP_MS);
      }
    }
    return Promise.all(outcomes);
  });
  return (await Promise.all(rooms)).flat();
}

interface Totals {
  expected: number;
  delivered: number;
  corrupt: number;
  outOfOrder: number;
  unknownStreamTracks: number;
  latency: LatencyHistogram;
}

/** Peers on a pair whose local (SFU) side is relayed, from `sfu_ice_selected_pairs{local_type,remote_type}`. */
function relayedPeers(exposition: string): number {
  let peers = 0;
  for (const match of exposition.matchAll(
    /^sfu_ice_selected_pairs\{[^}]*\blocal_type="relay"[^}]*\}\s+(\S+)/gm,
  ))
    peers += Number(match[1]);
  return peers;
}

/** The main thread's V8 heap spaces by name (reserved bytes), from prom-client's default metrics. */
function heapSpaces(exposition: string): Map<string, number> {
  return parsePrometheusByLabel(exposition, "nodejs_heap_space_size_total_bytes", "space");
}

/** How the V8 heap spaces grew between two scrapes; nothing when either scrape lacked them. */
function heapGrowth(
  idle: ReadonlyMap<string, number>,
  loaded: ReadonlyMap<string, number>,
): { heapGrowthBytes?: HeapGrowth } {
  const growth = (...spaces: string[]): number =>
    spaces.reduce((sum, space) => sum + (loaded.get(space) ?? 0) - (idle.get(space) ?? 0), 0);
  if (!idle.has("new") || !loaded.has("new")) return {};
  return {
    heapGrowthBytes: {
      young: growth("new", "new_large_object"),
      code: growth("code", "code_large_object"),
      old: growth("old", "large_object"),
    },
  };
}

/** Merges the load clients' reports; every packet sent is owed to every other peer of its room. */
function summarize(reports: readonly ClientReport[], scenario: Scenario): Totals {
  const latency = new LatencyHistogram();
  let expected = 0;
  let delivered = 0;
  let corrupt = 0;
  let outOfOrder = 0;
  let unknownStreamTracks = 0;
  for (const report of reports) {
    for (const [, sent] of report.sentBySender) expected += sent * (scenario.peersPerRoom - 1);
    delivered += report.received;
    corrupt += report.corrupt;
    outOfOrder += report.outOfOrder;
    unknownStreamTracks += report.unknownStreamTracks;
    latency.merge(report.latency);
  }
  return { expected, delivered, corrupt, outOfOrder, unknownStreamTracks, latency };
}

/** Load-client processes for a scenario: one per PACKETS_PER_CLIENT_PROCESS, at most `max`. */
export function clientProcessesFor(scenario: Scenario, max: number): number {
  return Math.min(
    max,
    Math.max(1, Math.ceil(nominalForwardedPerSecond(scenario) / PACKETS_PER_CLIENT_PROCESS)),
  );
}

/** How long a scenario warms up after its last join; see WARMUP_PACKETS. */
export function warmupMs(scenario: Scenario): number {
  const ms = (WARMUP_PACKETS / nominalForwardedPerSecond(scenario)) * 1000;
  return Math.round(Math.min(WARMUP_MAX_MS, Math.max(WARMUP_MIN_MS, ms)));
}

/**
 * Join tokens for the audience scenario (PROTOCOL §15): its target runs with
 * a JOIN_TOKEN_SECRET of the run's own, speakers join with `canPublish: true`
 * and listeners with `canPublish: false`, so the SFU treats them as listen-only
 * whatever they offer. A compare target that ignores tokens (the Pion anchor)
 * just admits everyone; its listeners stay listeners because they offer
 * `recvonly` and send nothing.
 */
class AudienceTokens {
  readonly #secret = randomBytes(32).toString("base64url");
  readonly #jose = import("jose");

  targetSpec(spec: TargetSpec): TargetSpec {
    return { ...spec, env: { ...spec.env, JOIN_TOKEN_SECRET: this.#secret } };
  }

  async mint(userId: string, canPublish: boolean): Promise<string> {
    const { SignJWT } = await this.#jose;
    return new SignJWT({ room: "*", sub: userId, canPublish })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(this.#secret));
  }
}
