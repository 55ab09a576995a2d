/**
 * Turns results into the console tables and docs/PERFORMANCE.md.
 */
import { cpus, release, totalmem } from "node:os";
import { FLOOR_WARMUP_MS } from "./measureFloor.js";
import {
  PASS_DELIVERY,
  PASS_P99_MS,
  busiestThreadPercent,
  nominalForwardedPerSecond,
  scenarioName,
  targetLabel as label,
  type ClusterNodeResult,
  type ClusterResult,
  type ClusterRun,
  type FillResult,
  type FloorResult,
  type OnePortScaleResult,
  type Scenario,
  type ScenarioResult,
  type ScenarioRun,
} from "./results.js";

/** One row of a comparison table. */
interface Row {
  label: string;
  value: (r: ScenarioResult) => number;
  format: (v: number) => string;
  /** Ratios of counts that are normally zero say nothing. */
  ratio: boolean;
  /** Show the ratio even when a target delivered too little for costs and latencies to compare. */
  alwaysRatio?: boolean;
  /** The cell, for rows that show several numbers; `value` then only feeds the ratio. */
  text?: (r: ScenarioResult) => string;
}

const MB = 1024 * 1024;
const fixed =
  (digits: number) =>
  (v: number): string =>
    Number.isFinite(v) ? v.toFixed(digits) : "n/a";
const integer = (v: number): string => (Number.isFinite(v) ? Math.round(v).toLocaleString("en-US") : "n/a");
const percent = (v: number): string => (Number.isFinite(v) ? `${(v * 100).toFixed(2)} %` : "n/a");

const FORWARDED: Row = {
  label: "forwarded packets/s",
  value: (r) => r.forwardedPerSecond,
  format: integer,
  ratio: true,
  alwaysRatio: true,
};
const DELIVERY: Row = {
  label: "delivery",
  value: (r) => r.deliveryRatio,
  format: percent,
  ratio: true,
  alwaysRatio: true,
};
const CPU_PER_PACKET: Row = {
  label: "server CPU µs / forwarded packet",
  value: (r) => r.cpuMicrosPerPacket,
  format: fixed(1),
  ratio: true,
};
const LATENCY_P50: Row = {
  label: "latency p50 (ms)",
  value: (r) => r.latencyMs.p50,
  format: fixed(1),
  ratio: true,
};
const LATENCY_P99: Row = {
  label: "latency p99 (ms)",
  value: (r) => r.latencyMs.p99,
  format: fixed(1),
  ratio: true,
};
const RSS_LOADED: Row = {
  label: "RSS loaded (MB)",
  value: (r) => r.rssLoadedBytes / MB,
  format: fixed(0),
  ratio: true,
};
/** The RSS growth's V8 part by space (main thread), whatever the peer count; see "Reading the numbers". */
const HEAP_GROWTH_ROWS: Row[] = (
  [
    ["young generation", "young"],
    ["compiled code", "code"],
    ["old generation", "old"],
  ] as const
).map(([what, space]) => ({
  label: `… V8 ${what} growth over idle (MB)`,
  value: (r: ScenarioResult) => (r.heapGrowthBytes ? r.heapGrowthBytes[space] / MB : Number.NaN),
  format: fixed(1),
  ratio: false,
}));
const EVENT_LOOP_P99: Row = {
  label: "event-loop delay p99 (ms)",
  value: (r) => r.eventLoopP99Ms,
  format: fixed(1),
  ratio: true,
};
const CLIENT_CPU: Row = {
  label: "load clients CPU, % of one core",
  value: (r) => r.clientCpuPercent,
  format: fixed(1),
  ratio: false,
};
const IDLE_CPU: Row = {
  label: "idle server CPU (ms per s)",
  value: (r) => r.idleCpuMsPerSecond ?? Number.NaN,
  format: fixed(1),
  ratio: true,
};
/**
 * The server's load split in two: a per-connection part (the silent phase,
 * beyond the idle process) and a marginal part per forwarded packet (the
 * window, beyond the silent phase).
 */
const SILENT_ROWS: Row[] = [
  {
    label: "server CPU, all peers connected and silent (ms per s)",
    value: (r) => r.silentCpuMsPerSecond ?? Number.NaN,
    format: fixed(1),
    ratio: true,
  },
  {
    label: "… per connection beyond idle (ms per s)",
    value: (r) => ((r.silentCpuMsPerSecond ?? Number.NaN) - (r.idleCpuMsPerSecond ?? Number.NaN)) / r.peers,
    format: fixed(2),
    ratio: true,
  },
  {
    label: "server CPU µs / forwarded packet beyond the silent load",
    value: (r) =>
      (r.serverCpuPercent * 1e4 - (r.silentCpuMsPerSecond ?? Number.NaN) * 1e3) / r.forwardedPerSecond,
    format: fixed(1),
    ratio: true,
  },
];
const OTHER_CPU: Row = {
  label: "other CPU on the machine, % of one core",
  value: (r) => r.otherCpuPercent,
  format: fixed(1),
  ratio: false,
};

const ROWS: Row[] = [
  FORWARDED,
  DELIVERY,
  {
    label: "forwards/s the server counted (sfu_rtp_packets_forwarded_total)",
    value: (r) => (r.serverCountedForwards === null ? Number.NaN : r.serverCountedForwards / r.seconds),
    format: integer,
    ratio: false,
  },
  CPU_PER_PACKET,
  {
    label: "… of which in the kernel (system time)",
    value: (r) => r.systemMicrosPerPacket ?? Number.NaN,
    format: fixed(1),
    ratio: true,
  },
  { label: "server CPU, % of one core", value: (r) => r.serverCpuPercent, format: fixed(1), ratio: true },
  IDLE_CPU,
  ...SILENT_ROWS,
  LATENCY_P50,
  { label: "latency p95 (ms)", value: (r) => r.latencyMs.p95, format: fixed(1), ratio: true },
  LATENCY_P99,
  { label: "join → all audio p50 (ms)", value: (r) => r.joinMs.p50, format: fixed(0), ratio: true },
  { label: "join → all audio p95 (ms)", value: (r) => r.joinMs.p95, format: fixed(0), ratio: true },
  { label: "peers whose ICE never connected", value: (r) => r.iceFailed, format: integer, ratio: false },
  { label: "peers that never heard everyone", value: (r) => r.joinIncomplete, format: integer, ratio: false },
  {
    label: "corrupt / out-of-order packets",
    value: (r) => r.corrupt + r.outOfOrder,
    format: integer,
    ratio: false,
  },
  { label: "RSS idle (MB)", value: (r) => r.rssIdleBytes / MB, format: fixed(0), ratio: true },
  RSS_LOADED,
  {
    label: "RSS per peer beyond idle (KB)",
    value: (r) => r.rssPerPeerBytes / 1024,
    format: fixed(0),
    ratio: true,
  },
  {
    label: "RSS idle after a full GC (MB)",
    value: (r) => (r.rssIdleAfterGcBytes ?? Number.NaN) / MB,
    format: fixed(0),
    ratio: true,
  },
  {
    label: "RSS per peer after a full GC (KB)",
    value: (r) => (r.rssPerPeerAfterGcBytes ?? Number.NaN) / 1024,
    format: fixed(0),
    ratio: true,
  },
  ...HEAP_GROWTH_ROWS,
  EVENT_LOOP_P99,
  CLIENT_CPU,
  {
    label: "load clients CPU µs / packet",
    value: (r) => r.clientCpuMicrosPerPacket,
    format: fixed(1),
    ratio: false,
  },
  {
    label: "load clients event-loop delay p99 (ms)",
    value: (r) => r.clientEventLoopP99Ms,
    format: fixed(1),
    ratio: false,
  },
  OTHER_CPU,
];

/** The busiest thread's share of one core, as a fraction; NaN without thread figures. */
function busiestThreadFraction(r: ScenarioResult): number {
  return r.threadCpu ? busiestThreadPercent(r.threadCpu) / 100 : Number.NaN;
}

/**
 * How the SFU's CPU splits over its threads (bench/threads.ts): at the loads the
 * clients can make on this machine the process is far from a core in total, so
 * whether a second worker helps shows in how the work spreads, not in throughput.
 */
const THREAD_ROWS: Row[] = [
  {
    label: "main thread (signaling), % of one core",
    value: (r) => r.threadCpu?.mainPercent ?? Number.NaN,
    format: fixed(1),
    ratio: true,
  },
  {
    label: "busiest forwarding thread, % of one core",
    value: (r) =>
      r.threadCpu && r.threadCpu.forwardingPercent.length > 0
        ? Math.max(...r.threadCpu.forwardingPercent)
        : Number.NaN,
    format: fixed(1),
    ratio: true,
  },
  {
    label: "forwarding threads, % of one core each",
    value: () => Number.NaN,
    format: fixed(1),
    ratio: false,
    text: (r) =>
      r.threadCpu && r.threadCpu.forwardingPercent.length > 0
        ? r.threadCpu.forwardingPercent.map(fixed(1)).join(" / ")
        : "n/a",
  },
  {
    label: "other threads (V8, libuv, loaders), % of one core, summed",
    value: (r) => r.threadCpu?.restPercent ?? Number.NaN,
    format: fixed(1),
    ratio: false,
  },
  {
    label: "projected ceiling, forwarded packets/s (busiest thread at 100 %)",
    value: (r) => r.forwardedPerSecond / busiestThreadFraction(r),
    format: integer,
    ratio: true,
  },
];

/** The worker-scaling tables: what a second worker thread may change, and what the machine had left. */
const SCALING_ROWS: Row[] = [
  CPU_PER_PACKET,
  FORWARDED,
  DELIVERY,
  LATENCY_P50,
  LATENCY_P99,
  {
    label: "SFU process CPU, % of one core (all threads)",
    value: (r) => r.serverCpuPercent,
    format: fixed(1),
    ratio: true,
  },
  ...THREAD_ROWS,
  IDLE_CPU,
  RSS_LOADED,
  EVENT_LOOP_P99,
  CLIENT_CPU,
  OTHER_CPU,
];

/**
 * The connectivity variants beside the plain SFU: what relaying through coturn and sharing one UDP
 * port cost the SFU, and what coturn itself spends on the relay path.
 */
const CONNECTIVITY_ROWS: Row[] = [
  FORWARDED,
  DELIVERY,
  CPU_PER_PACKET,
  {
    label: "coturn CPU µs / forwarded packet",
    value: (r) => r.turnServer?.cpuMicrosPerPacket ?? Number.NaN,
    format: fixed(1),
    ratio: false,
  },
  { label: "server CPU, % of one core", value: (r) => r.serverCpuPercent, format: fixed(1), ratio: true },
  {
    label: "SFU peers on a relayed pair (sfu_ice_selected_pairs)",
    value: (r) => r.turnServer?.relayedPeers ?? Number.NaN,
    format: integer,
    ratio: false,
  },
  {
    label: "coturn CPU, % of one core",
    value: (r) => r.turnServer?.cpuPercent ?? Number.NaN,
    format: fixed(1),
    ratio: false,
  },
  LATENCY_P50,
  LATENCY_P99,
  { label: "join → all audio p95 (ms)", value: (r) => r.joinMs.p95, format: fixed(0), ratio: true },
  { label: "peers whose ICE never connected", value: (r) => r.iceFailed, format: integer, ratio: false },
  {
    label: "corrupt / out-of-order packets",
    value: (r) => r.corrupt + r.outOfOrder,
    format: integer,
    ratio: false,
  },
  RSS_LOADED,
  EVENT_LOOP_P99,
  CLIENT_CPU,
  OTHER_CPU,
];

const CONNECTIVITY: Comparison = {
  rows: CONNECTIVITY_ROWS,
  ratios: [
    { numerator: "sfu-relay", denominator: "sfu", header: "relay ÷ SFU" },
    { numerator: "sfu-one-port", denominator: "sfu", header: "one port ÷ SFU" },
  ],
};

/** Two targets a ratio column compares, and its header. */
interface RatioColumn {
  numerator: string;
  denominator: string;
  header: string;
}

/** Which rows a table has, and which targets its ratio columns compare. */
interface Comparison {
  rows: readonly Row[];
  ratios: readonly RatioColumn[];
}

/** The scenario tables: SFU ÷ naive relay, and SFU ÷ the `--compare` target when one ran. */
function mainComparison(compareTarget?: string): Comparison {
  return {
    rows: ROWS,
    ratios: [
      { numerator: "sfu", denominator: "naive", header: "SFU ÷ naive" },
      ...(compareTarget
        ? [{ numerator: "sfu", denominator: compareTarget, header: `SFU ÷ ${label(compareTarget)}` }]
        : []),
    ],
  };
}
const TWO_WORKERS_VS_ONE: Comparison = {
  rows: SCALING_ROWS,
  ratios: [{ numerator: "sfu-2w", denominator: "sfu-1w", header: "2 workers ÷ 1" }],
};

/** One room-fill size, one result per target in the order they ran. */
export interface FillRun {
  peers: number;
  results: FillResult[];
}

/** A row of the room-fill table. */
interface FillRow {
  label: string;
  value: (r: FillResult) => number;
  format: (v: number) => string;
  ratio: boolean;
}

const KB = 1024;
const FILL_ROWS: FillRow[] = [
  {
    label: "join → hears everyone already there, p50 (ms)",
    value: (r) => r.hearMs.p50,
    format: fixed(0),
    ratio: true,
  },
  {
    label: "join → hears everyone already there, p95 (ms)",
    value: (r) => r.hearMs.p95,
    format: fixed(0),
    ratio: true,
  },
  { label: "… the slowest join (ms)", value: (r) => r.hearMs.max, format: fixed(0), ratio: true },
  {
    label: "… the last tenth of the joins, p50 (ms)",
    value: (r) => r.lastTenthHearMs.p50,
    format: fixed(0),
    ratio: true,
  },
  {
    label: "… the last tenth of the joins, p95 (ms)",
    value: (r) => r.lastTenthHearMs.p95,
    format: fixed(0),
    ratio: true,
  },
  {
    label: "join → a track for everyone, ICE up, p50 (ms)",
    value: (r) => r.tracksMs.p50,
    format: fixed(0),
    ratio: true,
  },
  {
    label: "join → a track for everyone, ICE up, p95 (ms)",
    value: (r) => r.tracksMs.p95,
    format: fixed(0),
    ratio: true,
  },
  { label: "peers that never heard everyone", value: (r) => r.incomplete, format: integer, ratio: false },
  { label: "peers whose ICE never connected", value: (r) => r.iceFailed, format: integer, ratio: false },
  {
    label: "… failed at the client in ICE checks",
    value: (r) => r.clientFailed.ice,
    format: integer,
    ratio: false,
  },
  {
    label: "… failed at the client in the DTLS handshake",
    value: (r) => r.clientFailed.dtls,
    format: integer,
    ratio: false,
  },
  {
    label: "server event-loop delay over the fill, p99 (ms)",
    value: (r) => r.eventLoopDelayMs.p99,
    format: fixed(0),
    ratio: true,
  },
  {
    label: "… its longest (ms)",
    value: (r) => r.eventLoopDelayMs.max,
    format: fixed(0),
    ratio: true,
  },
  {
    label: "SDP bytes, all offers and answers, both ways (KB)",
    value: (r) => (r.sdpFromServerBytes + r.sdpToServerBytes) / KB,
    format: integer,
    ratio: true,
  },
  {
    label: "… sent by the server (KB)",
    value: (r) => r.sdpFromServerBytes / KB,
    format: integer,
    ratio: true,
  },
  {
    label: "… sent by the clients (KB)",
    value: (r) => r.sdpToServerBytes / KB,
    format: integer,
    ratio: true,
  },
  { label: "offers the server sent", value: (r) => r.serverOffers, format: integer, ratio: true },
  {
    label: "first join → everyone heard everyone (s)",
    value: (r) => r.fillSeconds,
    format: fixed(1),
    ratio: true,
  },
  {
    label: "server CPU per join, fill included (ms)",
    value: (r) => r.cpuMicrosPerJoin / 1000,
    format: fixed(1),
    ratio: true,
  },
  {
    label: "load clients' CPU per join, all processes (ms)",
    value: (r) => r.clientCpuMicrosPerJoin / 1000,
    format: fixed(1),
    ratio: true,
  },
  { label: "RSS with the room full (MB)", value: (r) => r.rssFullBytes / MB, format: fixed(0), ratio: true },
];

/** The room-fill table: rows × targets, and SFU ÷ each other target that ran. */
function fillCells(results: readonly FillResult[], compareTarget?: string): string[][] {
  const sfu = results.find((r) => r.target === "sfu" && r.error === null);
  const others = sfu
    ? results.filter((r) => r.error === null && (r.target === "naive" || r.target === compareTarget))
    : [];
  const header = [
    "",
    ...results.map((r) => label(r.target)),
    ...others.map((o) => `SFU ÷ ${label(o.target)}`),
  ];
  const rows = FILL_ROWS.map((row) => [
    row.label,
    ...results.map((r) => (r.error !== null ? "failed" : row.format(row.value(r)))),
    ...others.map((o) => (row.ratio && sfu ? ratio(row.value(sfu), row.value(o)) : "")),
  ]);
  return [header, ...rows];
}

/** The room-fill table for the terminal. */
export function consoleFillTable(results: readonly FillResult[], compareTarget?: string): string {
  return [
    ...plainTable(fillCells(results, compareTarget)),
    ...results.filter((r) => r.error !== null).map((r) => `  ${label(r.target)} failed: ${r.error}`),
  ].join("\n");
}

/** "Room fill": each size's table, after how it was measured. */
function fillSection(fills: readonly FillRun[], compareTarget?: string): string[] {
  const sample = fills[0]?.results[0];
  const parts = [
    "### Room fill",
    "",
    `One room filled from empty: peer k joins ${sample?.joinGapMs ?? 100} ms after peer k − 1, none waiting ` +
      `for another, and each publishes one packet every ${sample?.sendIntervalMs ?? 200} ms (a tenth of ` +
      "Opus' rate, so that a full room of 100 stays within what this machine forwards beside its load " +
      "clients). A newcomer has heard everyone already there when a packet from each of them arrived; " +
      "that waits up to one send interval for each peer's next packet, which the track row leaves out " +
      "(a forwarded track for everyone listed in its `joined` message, and ICE connected). SDP bytes " +
      "count every offer and answer on the signaling channel during the fill (UTF-8 bytes of the `sdp` " +
      "field), at the clients. CPU per join is the server's utime+stime from the first join until " +
      "every newcomer heard everyone (or gave up after 30 s), ÷ the peers.",
    "",
  ];
  for (const { peers, results } of fills) {
    parts.push(`#### Room of ${peers}`, "", markdownTable(fillCells(results, compareTarget)), "");
    for (const failed of results.filter((r) => r.error !== null)) {
      parts.push(`${label(failed.target)} failed: \`${failed.error!.split("\n")[0]}\``, "");
    }
  }
  return parts;
}

/** "Audience": one room where a few speak and the rest listen. */
function audienceSection(run: ScenarioRun, compareTarget?: string): string[] {
  const { scenario } = run;
  const speakers = scenario.speakers ?? scenario.peersPerRoom;
  return [
    "### Audience",
    "",
    `One room of ${speakers} speakers and ${scenario.peersPerRoom - speakers} listeners. Speakers join ` +
      "first and publish as in the scenarios above; a listener offers one `recvonly` audio transceiver " +
      "and sends nothing (PROTOCOL §5's listen-only client), so no target subscribes anyone to it and " +
      "each listener receives the speakers' tracks only. Listeners join one at a time, each waiting " +
      "to hear every speaker (after 90 s the rest join 100 ms apart). Delivery counts each speaker's " +
      "packets once for every other peer in the room; RSS per peer divides by all peers, listeners included. " +
      "Each target runs this scenario with a \`JOIN_TOKEN_SECRET\` of the run's own: speakers join with a " +
      "token claiming \`canPublish: true\`, listeners with \`canPublish: false\` (PROTOCOL §15), so the SFU " +
      "answers a listener's audio \`inactive\` whatever it offers. A target that ignores tokens (the naive " +
      "relay, the Pion anchor) admits the same clients, and its listeners stay listeners by what they offer.",
    "",
    ...scenarioSection("####", run, mainComparison(compareTarget)),
  ];
}

/** One row of the `3 nodes` table: the single node's cell, each node's, and the three together. */
interface ClusterRow {
  label: string;
  single: (r: ScenarioResult) => string;
  node: (n: ClusterNodeResult) => string;
  total: (c: ClusterResult) => string;
}

const joinCell = (j: { p50: number; p95: number; samples: number }): string =>
  j.samples > 0 ? `${fixed(0)(j.p50)} / ${fixed(0)(j.p95)} (${j.samples})` : "n/a";

const CLUSTER_ROWS: ClusterRow[] = [
  {
    label: "rooms / peers placed",
    single: (r) => `${r.scenario.rooms} / ${r.peers}`,
    node: (n) => `${n.rooms} / ${n.peers}`,
    total: (c) => `${c.scenario.rooms} / ${c.scenario.rooms * c.scenario.peersPerRoom}`,
  },
  {
    label: "sockets taken",
    single: (r) => String(r.peers),
    node: (n) => String(n.sockets),
    total: (c) => String(c.nodes.reduce((sum, n) => sum + n.sockets, 0)),
  },
  {
    label: "forwarded packets/s",
    single: (r) => integer(r.forwardedPerSecond),
    node: (n) => integer(n.forwardedPerSecond),
    total: (c) => integer(c.forwardedPerSecond),
  },
  {
    label: "delivery",
    single: (r) => percent(r.deliveryRatio),
    node: (n) => percent(n.deliveryRatio),
    total: (c) => percent(c.deliveryRatio),
  },
  {
    label: "server CPU µs / forwarded packet",
    single: (r) => fixed(1)(r.cpuMicrosPerPacket),
    node: (n) => fixed(1)(n.cpuMicrosPerPacket),
    total: (c) => fixed(1)(c.cpuMicrosPerPacket),
  },
  {
    label: "server CPU (% of one core)",
    single: (r) => fixed(1)(r.serverCpuPercent),
    node: (n) => fixed(1)(n.serverCpuPercent),
    total: (c) => fixed(1)(c.nodes.reduce((sum, n) => sum + n.serverCpuPercent, 0)),
  },
  {
    label: "RSS idle → loaded (MB)",
    single: (r) => `${fixed(0)(r.rssIdleBytes / MB)} → ${fixed(0)(r.rssLoadedBytes / MB)}`,
    node: (n) => `${fixed(0)(n.rssIdleBytes / MB)} → ${fixed(0)(n.rssLoadedBytes / MB)}`,
    total: (c) =>
      `${fixed(0)(c.nodes.reduce((sum, n) => sum + n.rssIdleBytes, 0) / MB)} → ` +
      fixed(0)(c.nodes.reduce((sum, n) => sum + n.rssLoadedBytes, 0) / MB),
  },
  {
    label: "event-loop delay p99 (ms)",
    single: (r) => fixed(1)(r.eventLoopP99Ms),
    node: (n) => fixed(1)(n.eventLoopP99Ms),
    total: () => "",
  },
  {
    label: "latency p50 / p99 (ms)",
    single: (r) => `${fixed(1)(r.latencyMs.p50)} / ${fixed(1)(r.latencyMs.p99)}`,
    node: () => "",
    total: (c) => `${fixed(1)(c.latencyMs.p50)} / ${fixed(1)(c.latencyMs.p99)}`,
  },
  {
    label: "join → all audio p50 / p95 (ms), socket on the room's node",
    single: (r) => joinCell(r.joinMs),
    node: () => "",
    total: (c) => joinCell(c.directJoinMs),
  },
  {
    label: "join → all audio p50 / p95 (ms), relayed by another node",
    single: () => "",
    node: () => "",
    total: (c) => joinCell(c.relayedJoinMs),
  },
  {
    label: "joins incomplete / ICE failed",
    single: (r) => `${r.joinIncomplete} / ${r.iceFailed}`,
    node: () => "",
    total: (c) => `${c.joinIncomplete} / ${c.iceFailed}`,
  },
  {
    label: "load clients / other CPU (% of one core)",
    single: (r) => `${fixed(0)(r.clientCpuPercent)} / ${fixed(0)(r.otherCpuPercent)}`,
    node: () => "",
    total: (c) => `${fixed(0)(c.clientCpuPercent)} / ${fixed(0)(c.otherCpuPercent)}`,
  },
];

function clusterCells({ single, cluster }: ClusterRun): string[][] {
  const failed = (text: string, error: string | null): string => (error === null ? text : "failed");
  return [
    ["", "SFU, 1 node", ...cluster.nodes.map((n) => n.nodeId), "3 nodes"],
    ...CLUSTER_ROWS.map((row) => [
      row.label,
      failed(row.single(single), single.error),
      ...cluster.nodes.map((n) => failed(row.node(n), cluster.error)),
      failed(row.total(cluster), cluster.error),
    ]),
  ];
}

/** The `3 nodes` table for the terminal. */
export function consoleClusterTable(run: ClusterRun): string {
  return [
    ...plainTable(clusterCells(run)),
    ...[run.single.error && `  SFU, 1 node failed: ${run.single.error.split("\n")[0]}`],
    ...[run.cluster.error && `  3 nodes failed: ${run.cluster.error.split("\n")[0]}`],
  ]
    .filter((line): line is string => typeof line === "string" && line !== "")
    .join("\n");
}

/** "3 nodes": the same rooms on one SFU and spread over three nodes and Redis, in the same run. */
function clusterSection(run: ClusterRun): string[] {
  const { scenario } = run;
  return [
    `### 3 nodes: ${scenarioName(scenario)} over three nodes and Redis`,
    "",
    `The same ${scenario.rooms} rooms × ${scenario.peersPerRoom} peers, first on one SFU process, then on ` +
      "three SFU nodes joined by a redis-server (`REDIS_URL`, PROTOCOL §14), all on this machine. Each " +
      "node runs the SFU's command with `REDIS_URL` and `NODE_ID` added. The rooms' first peers join one " +
      "after another, 2 s apart, so that the cluster's placement (the node with the fewest peers at its last " +
      "heartbeat) sees each room it placed; the first peer of room r connects its socket to node r mod 3. " +
      "Then the rooms fill in parallel, peer k of room r connecting to node (r + k) mod 3: a peer whose " +
      "socket is on the room's node signals directly, the others are relayed by the node that took the " +
      "socket, over Redis, to the room's node. Media always goes straight to the room's node.",
    "",
    "A node's delivery and packets are those of the receivers in the rooms placed on it; its CPU is its " +
      "process's utime+stime over the window, ÷ those packets (it includes relaying other nodes' " +
      "signaling, which is idle once everyone has joined). The 3-node CPU per packet is the three nodes' " +
      "CPU over all packets, beside the single node's. Join → all audio is measured as in the scenarios " +
      "above, split by where the joining peer's socket was; relaying shows as the difference. redis-server's " +
      "own CPU is left out (it carries no media).",
    "",
    markdownTable(clusterCells(run)),
    "",
    ...(run.single.error ? [`SFU, 1 node failed: \`${run.single.error.split("\n")[0]}\``, ""] : []),
    ...(run.cluster.error ? [`3 nodes failed: \`${run.cluster.error.split("\n")[0]}\``, ""] : []),
  ];
}

/** Other CPU use on the machine above which a run is flagged as disturbed. */
const BUSY_MACHINE_PERCENT = 25;

function ratio(a: number, b: number): string {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? `${(a / b).toFixed(2)}×` : "";
}

/** Rows × targets, plus a ratio column (e.g. SFU ÷ naive) for each compared pair that both ran. */
function tableCells(results: readonly ScenarioResult[], comparison: Comparison): string[][] {
  const columns = comparison.ratios.flatMap((column) => {
    const top = results.find((r) => r.target === column.numerator);
    const bottom = results.find((r) => r.target === column.denominator);
    if (top === undefined || bottom === undefined) return [];
    // A ratio of costs or latencies between a target that forwards and one that mostly does not means nothing.
    return [{ header: column.header, top, bottom, comparable: isComparable(top) && isComparable(bottom) }];
  });
  const header = ["", ...results.map((r) => label(r.target)), ...columns.map((c) => c.header)];
  const rows = comparison.rows.map((row) => [
    row.label,
    ...results.map((r) => (r.error !== null ? "failed" : row.text ? row.text(r) : row.format(row.value(r)))),
    ...columns.map((c) =>
      row.ratio && (c.comparable || row.alwaysRatio === true)
        ? ratio(row.value(c.top), row.value(c.bottom))
        : "",
    ),
  ]);
  return [header, ...rows];
}

/** Delivery below which a target's cost and latency figures are not compared. */
const COMPARABLE_DELIVERY = 0.9;

function isComparable(result: ScenarioResult): boolean {
  return result.error === null && result.deliveryRatio >= COMPARABLE_DELIVERY;
}

/** Why a table has no ratios, if it has none. */
function ratioNote(results: readonly ScenarioResult[]): string | undefined {
  const poor = results.filter((r) => !isComparable(r));
  if (poor.length === 0 || results.length < 2) return undefined;
  return (
    `Cost and latency ratios are left out: ${poor.map((r) => label(r.target)).join(" and ")} ` +
    `delivered under ${COMPARABLE_DELIVERY * 100} % of the packets.`
  );
}

/**
 * A plain-text table for the terminal; `scaling` picks the worker-scaling rows and ratio,
 * `connectivity` the connectivity variants' rows and ratios.
 */
export function consoleTable(
  scenario: Scenario,
  results: readonly ScenarioResult[],
  kind: "main" | "scaling" | "connectivity" = "main",
  compareTarget?: string,
): string {
  const comparison =
    kind === "scaling"
      ? TWO_WORKERS_VS_ONE
      : kind === "connectivity"
        ? CONNECTIVITY
        : mainComparison(compareTarget);
  const lines = plainTable(tableCells(results, comparison));
  const errors = results
    .filter((r) => r.error !== null)
    .map((r) => `  ${label(r.target)} failed: ${r.error}`);
  const note = ratioNote(results);
  if (note) errors.push(`  ${note}`);
  return [
    `\n== ${kind === "main" ? "" : kind === "scaling" ? "worker scaling, " : "connectivity, "}${scenarioName(scenario)} (${scenario.rooms} room(s) × ${scenario.peersPerRoom} peers, nominal ${nominalForwardedPerSecond(scenario).toLocaleString("en-US")} forwarded packets/s)`,
    ...lines,
    ...errors,
  ].join("\n");
}

/** The floor table: per scenario, Node's UDP floor, the SFU from the same run, and the difference. */
function floorCells(runs: readonly ScenarioRun[]): string[][] {
  const header = [
    "scenario",
    "forwarded packets/s",
    "floor µs / packet",
    "… in the kernel",
    "SFU µs / packet",
    "SFU − floor (µs)",
  ];
  const rows = runs
    .filter((run): run is ScenarioRun & { floor: FloorResult } => run.floor !== undefined)
    .map(({ scenario, results, floor }) => {
      const sfu = results.find((r) => r.target === "sfu");
      const sfuMicros = sfu && sfu.error === null ? sfu.cpuMicrosPerPacket : Number.NaN;
      return [
        scenarioName(scenario),
        floor.error === null ? integer(floor.forwardedPerSecond) : "failed",
        fixed(1)(floor.cpuMicrosPerPacket),
        fixed(1)(floor.systemMicrosPerPacket),
        fixed(1)(sfuMicros),
        fixed(1)(sfuMicros - floor.cpuMicrosPerPacket),
      ];
    });
  return [header, ...rows];
}

function plainTable(cells: string[][]): string[] {
  const widths = cells[0]!.map((_, col) => Math.max(...cells.map((row) => (row[col] ?? "").length)));
  return cells.map((row) =>
    row.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!))).join("  "),
  );
}

/** One line for the terminal after a scenario's floor run. */
export function consoleFloorLine(floor: FloorResult): string {
  if (floor.error !== null) return `    failed: ${floor.error}`;
  return (
    `    ${fixed(1)(floor.cpuMicrosPerPacket)} µs/packet (${fixed(1)(floor.systemMicrosPerPacket)} in the kernel), ` +
    `${integer(floor.forwardedPerSecond)} forwarded/s, delivery ${percent(floor.deliveryRatio)}, ` +
    `${fixed(1)(floor.cpuPercent)} % of one core`
  );
}

/** The floor table for the terminal, once every scenario has run. */
export function consoleFloorTable(runs: readonly ScenarioRun[]): string {
  return [
    "\n== Node's UDP floor (a bare dgram forwarder, no WebRTC; a reference, not a target)",
    ...plainTable(floorCells(runs)),
  ].join("\n");
}

function markdownTable(cells: string[][]): string {
  const [header, ...rows] = cells;
  const line = (row: string[]): string => `| ${row.join(" | ")} |`;
  return [line(header!), line(header!.map(() => "---")), ...rows.map(line)].join("\n");
}

/** The outcome of the largest-load search for one target. */
export interface SearchOutcome {
  target: string;
  /** Largest single-room size that passed, if any. */
  best: ScenarioResult | undefined;
  probes: ScenarioResult[];
}

export interface ReportInput {
  command: string;
  quick: boolean;
  seconds: number;
  searchSeconds: number;
  clientProcesses: number;
  /** Whether the load clients ran under SCHED_BATCH; absent in results saved before the option existed. */
  batchClients?: boolean;
  /** ISO time the run started. */
  startedAt: string;
  machine: string;
  durationSeconds: number;
  scenarios: ScenarioRun[];
  searches: SearchOutcome[];
  /** The worker-scaling runs; absent when they did not run, and in results saved before they existed. */
  scaling?: ScalingSection;
  chartFile: string | undefined;
  sfuCommand: string;
  /** The audience scenario; absent when it did not run, and in older results. */
  audience?: ScenarioRun;
  /** The room fills; absent when none ran, and in older results. */
  fills?: FillRun[];
  /** The `--compare` target and how it was started; absent when none ran, and in older results. */
  compare?: { target: string; command: string };
  /** The `3 nodes` scenario beside the single-node SFU; absent when it did not run, and in older results. */
  cluster?: ClusterRun;
  /** The SFU's connectivity variants beside the plain SFU; absent when they did not run, and in older results. */
  connectivity?: ConnectivitySection;
  /** The one-port scale run; absent when it did not run, and in older results. */
  onePortScale?: OnePortScaleResult;
}

/** One scenario run by the plain SFU and by its connectivity variants (PROTOCOL §13). */
export interface ConnectivitySection {
  /** How each variant was started, in the order they ran. */
  commands: Array<{ target: string; command: string }>;
  /** The plain SFU's result first (from the scenarios above when it ran there), then the variants'. */
  run: ScenarioRun;
}

/** The SFU with forwarding in 1 and in 2 worker threads, on multi-room scenarios. */
export interface ScalingSection {
  /** How each target was started, in the order they ran. */
  commands: Array<{ target: string; command: string }>;
  scenarios: ScenarioRun[];
}

/** CPU, memory, kernel and Node of this machine, for the report. */
export function describeMachine(): string {
  const list = cpus();
  const model = list[0]?.model.trim() ?? "unknown CPU";
  return `${list.length} × ${model}, ${(totalmem() / 1024 ** 3).toFixed(1)} GiB RAM, Linux ${release()}, Node ${process.version}`;
}

const HOW_TO_RUN = `## Running the bench

\`\`\`sh
npm run bench                 # full run: both targets, every scenario, the audience, 3 nodes, the room fills, the connectivity rows, the one-port scale run, the load search, worker scaling, the floor
npm run bench -- --quick      # 1x5 and 1x10 for 5 s each, no audience, 3 nodes, fills, connectivity, one-port scale, search, scaling or floor; writes to $TMPDIR/sfu-bench/
BENCH_SCENARIOS=1x5,2x15 BENCH_SECONDS=10 BENCH_TARGETS=sfu npm run bench
npm run bench -- --scenarios= --no-audience --no-cluster --no-fill --no-search --no-scaling --no-one-port-scale --seconds=5 --out=/tmp/b   # the connectivity rows alone
npm run bench -- --scenarios= --no-audience --no-cluster --no-fill --no-search --no-scaling --no-connectivity --out=/tmp/b    # the one-port scale run alone
npm run bench -- --help       # every option
\`\`\`

With the Go/Pion SFU beside ours in the same run (the comparison point in
\`../shared/anchors/pion-sfu\`, not part of this repository; Debian packages
\`golang-1.19-go golang-github-pion-webrtc.v3-dev golang-github-gorilla-websocket-dev\`):

\`\`\`sh
OUT=/tmp/pion-sfu ../shared/anchors/pion-sfu/build.sh
npm run bench -- --compare="ICE_LOOPBACK_ONLY=1 /tmp/pion-sfu/pion-sfu" --compare-label=Pion
\`\`\`

\`--compare\` runs any server that speaks the wire contract (PROTOCOL §1–§5 over
the WebSocket transport, which is all the load clients use) as one more target
in every scenario, the audience and the room fills, after the SFU and the naive
relay, measured the same way (its process tree's CPU and RSS from \`/proc\`);
each table gains an "SFU ÷ <label>" column. Leading \`VAR=value\` words are its
environment; it also gets \`PORT\`, \`HOST=127.0.0.1\`, \`STUN_SERVERS=\` and
\`LOG_LEVEL=warn\`. Rows it has no metric for (event-loop delay, V8 heap) read n/a.

The \`3 nodes\` scenario (\`--cluster=6x5\`, on in the full run, after the audience)
needs Debian's \`redis-server\` (\`REDIS_SERVER_PATH\` names another). Alone:

\`\`\`sh
npm run bench -- --scenarios= --targets=sfu --no-fill --no-audience --no-floor --no-search --no-scaling --cluster=6x5
\`\`\`

It runs the rooms on one SFU process, then starts a redis-server on a free
loopback port and three SFU nodes (the SFU's command with \`REDIS_URL\` and
\`NODE_ID\` added), lets the cluster place the rooms one after another, and
fills them with peers whose sockets go to the nodes in turn, so that about two
thirds of the sessions are relayed by a node other than their room's. It prints
how many rooms each node got and how many sockets were relayed, then one table:
the single node, each node, and the three together.

The bench starts each server as its own process on a free 127.0.0.1 port, waits
for \`GET /health\`, starts the load-client processes, joins the peers, warms
up, measures one window, and tears everything down again before the next run.
CPU runs well above steady state in the first seconds after a join (JIT
compilation, collecting the join's garbage, the tail of ICE and DTLS), so the
window opens once the server has had time to forward about 100,000 packets
after the last join, and at least 5 s and at most 20 s after it (20 s at 1x5,
4x5 and 1x10, 9.5 s at 1x15, 5 s from 2x15 up). V8 compiles a function by how
often it runs, so at low packet rates the hot path is still being compiled
long after the join: at 1x5, TurboFan took 7.7 % of the SFU's CPU from 5 to
15 s after the last join and 3 % after that, and 15 % of the load clients'
until 25 s (\`perf record\`, 10 s slices). The window thus gives a
steady-state forwarding figure; what joining costs shows in join time. A
longer warm-up lowers both targets, not their ratio: with at least 30 s (one
run, 15 s window) 1x15 read 7.8 µs for the SFU and 24.5 for the naive relay
(0.32), 2x15 8.4 and 19.7 (0.42), within the spread between runs.
Ctrl-C kills every process it started. A full run rewrites this file,
\`docs/performance-chart.svg\` and \`docs/performance-results.json\` (the raw
numbers; \`npm run bench -- --render=docs/performance-results.json\` rebuilds the
other two from it without running anything); \`--quick\` writes to a temp
directory unless \`--out=DIR\` is given.

- **SFU target**: \`node dist/server/index.js\`, as \`npm start\` runs it: the bench
  compiles the server first (\`tsc -p tsconfig.build.json\`); \`--sfu-entry=server/index.ts\`
  runs the sources under tsx instead, whose loader thread adds about 30 MB of RSS.
  Environment: \`PORT=<free port> HOST=127.0.0.1 STUN_SERVERS= ICE_ADVERTISE_IP=127.0.0.1
  LOG_LEVEL=warn ALLOW_PRIVATE_CANDIDATES=true MAX_PEERS_PER_ROOM=1000\` (the audience room
  is larger than the default limit).
- **Naive relay**: \`bench/naive-relay.ts\`, the simplest werift forwarder that
  speaks the same protocol (each subscriber gets its own \`MediaStreamTrack\`,
  fed with \`writeRtp\` from the source's \`onReceiveRtp\`). Every ratio in the
  scenario tables is SFU ÷ naive relay for the same scenario, run back to back.
- **Worker targets** (\`sfu-1w\`, \`sfu-2w\`): the SFU target with \`SFU_WORKERS=1\` or
  \`SFU_WORKERS=2\` added: rooms spread over that many worker threads, signaling
  in the main thread. A full run (or \`--scaling\`) ends with the scaling
  scenarios (\`--scaling-scenarios\`, default 4x5 and 2x15) against both, back to
  back; their ratios are 2 workers ÷ 1 worker. See "Worker scaling" below.
- **Audience** (\`--audience=4+196\`): one room of 4 speakers and 196 listeners, see "Audience" (after a full run);
  the targets run it with \`JOIN_TOKEN_SECRET\` set, listeners join with \`canPublish: false\` tokens.
- **Room fill** (\`--fill=50,100\`): rooms filled by peers joining 100 ms apart, see "Room fill" (after a full run).
- **Connectivity** (\`--connectivity=1x10\`): the scenario again with the SFU relay-only through a
  coturn started on loopback for the run (\`sfu-relay\`: \`ICE_RELAY_ONLY=true\`,
  \`ICE_RELAY_ONLY_CLIENTS=true\`, the load clients relaying with the credentials from \`joined\`) and
  with one UDP port (\`sfu-one-port\`: \`ICE_UDP_PORT\`), beside the plain SFU; coturn's CPU is
  reported on rows of its own. Needs Debian's \`coturn\`. See "Connectivity" (after a full run).
- **One UDP port at scale** (\`--one-port-scale=500\`): that many peers in rooms of 5 on an SFU
  with \`ICE_UDP_PORT\`, publishing sparsely: how many connect, join time, delivery, and the UDP
  sockets the process holds. See "One UDP port, 500 peers" (after a full run).
- **Node UDP floor**: after each scenario's targets, a bare \`dgram\` forwarder
  (\`bench/floor-forwarder.ts\`, no WebRTC) with the scenario's traffic from a
  separate peers process, as a reference for what any Node forwarder costs here
  (\`--no-floor\` skips it). See "Node's UDP floor on this machine" below.

### What is measured

- Every peer is a werift \`RTCPeerConnection\` (\`iceServers: []\`, host candidates
  on 127.0.0.1 only) that joins through Socket.IO (\`/sfu\`, \`join\` → \`offer\` →
  \`answer\`, renegotiation \`offer\`s answered, trickled \`ice-candidate\`s) and
  publishes one Opus track at 50 packets/s. Payloads are 80–120 bytes and carry
  the sender's index, a counter, the send time and an FNV-1a checksum; receivers
  check every packet and record one-way latency on the shared machine clock.
- **Delivery** = intact packets received ÷ (packets sent × other peers in the
  room), counting packets whose send time lies in the measurement window.
- **Server CPU µs / forwarded packet** = utime+stime of the server's process tree
  (from \`/proc\`) over the window ÷ packets delivered. It includes everything the
  server does in that time (receive, decrypt, encrypt, send, RTCP, timers). The
  row below it is the stime part alone: time in the kernel, mostly the UDP sends.
- **Join → all audio**: from the \`join\` emit to the first packet from every peer
  already in the room; the first peer of a room has nobody to hear and is left out.
- **Idle server CPU** = time the server's threads spent on a CPU over 5 s of
  idling before anyone joins, in ms per second (1 ms per s is 0.1 % of a core):
  timers, metrics and whatever else the server does with nobody connected. The
  5 s start once the server has idled 10 s, after V8's memory reducer has
  collected the start-up garbage (one collection about 8 s in, some 100 ms of
  CPU, that would otherwise dominate the reading). It is read from each
  thread's \`/proc/<pid>/task/<tid>/schedstat\`, in nanoseconds: \`/proc\`'s
  utime and stime count 10 ms ticks, ±2 ms per s over 5 s.
- **Silent connections**: after the window every peer stops sending and stays
  connected; 2 s later the server's CPU is read over 5 s the same way. Beyond
  the idle reading, divided by the peers, that is the cost of holding one
  connection (ICE consent, RTCP, timers). The window's CPU beyond the silent
  reading, divided by the packets forwarded, is the marginal cost of a packet.
  For comparison, a fit over earlier runs on this rig split a plain werift
  relay's cost into about 17 ms per s per connection and 22 µs per packet, and
  a Go/Pion SFU's into about 13 ms per s and 8 µs. The silent reading is not
  that fit: it has no media at all, while a fit over loaded runs also takes in
  costs that grow with the peers while media flows; the naive relay reads 1–3
  ms per s per connection here. Not measured in search probes.
- **RSS per peer** = (server tree RSS at the end of the window − RSS of the idle
  server before any join, read after 10 s of idling) ÷ peers. The rows under it
  split off the main thread's V8 heap growth over the same interval, by space
  (reserved size, from prom-client's \`nodejs_heap_space_size_total_bytes\`;
  large objects go with their generation). They are totals, not per peer.
- **Event-loop delay p99** comes from the server's \`GET /metrics\`
  (\`nodejs_eventloop_lag_p99_seconds\`, prom-client's default metrics; a scrape
  at the window's start resets it). The naive relay exposes the same metric.
  It samples every 100 ms (\`EVENT_LOOP_MONITOR_MS\`) and reports what lies
  beyond that interval, so an idle server reads about 0; prom-client's own
  monitor woke the process every 10 ms, about 3 ms of CPU a second here.
- **Load clients CPU**: all load-client processes together, same window.
- **Load clients event-loop delay p99**: how late the clients' own 20 ms send
  timers fire, in the worst client process. It needs no sampling timer, which
  would wake each client process 100 more times a second; an unloaded client
  reads about 1 ms.

### Keeping the load clients cheap

The load clients share the two cores with the server, so they are built to
cost no more per packet than the server where the load is high, and not to be
what limits a run:

- a few processes each host many peers, instead of a process per peer: one
  process per 40,000 forwarded packets/s of the scenario (about 30 % of a
  core), at most 2 (\`--client-procs\`). A datagram that finds its process
  asleep costs a wake-up on both sides, the sender's kernel doing the waking on
  loopback; the more of the traffic one process receives, the more datagrams
  share one. One process instead of two took the clients from about 60 to 30 µs
  per packet at 1x5 and from 9–11 to 7.5 µs at 1x25, and the SFU from about 40
  to 30 µs at 1x5 and from 10 to 9 µs at 1x25 (two runs each). Remote clients
  would cost the server no wake-up at all;
- werift runs only ICE, DTLS and the SDP side; the RTP packets go through
  \`lib/media\`, the SFU's own SRTP/RTP layer (see "How the SFU forwards"),
  imported, not copied. The SFU signals each forwarded track's SSRC (a=ssrc),
  so a client opens one \`RtpReceiveStream\` per track: its own listener on the
  connection's UDP socket hands SRTP datagrams to \`MediaTransport\`,
  \`SrtpContext\` authenticates and decrypts them in place, and the payload is
  checked where it lies in the datagram. Sending writes the header into a
  fresh datagram, \`SrtpContext.protect\` encrypts the payload into it and
  \`RtpSendStream\` hands it to the socket. werift's own media path would parse
  every datagram as STUN, create an AES cipher and an HMAC per packet, parse or
  serialise and clone every header, keep receive statistics, and run several
  event dispatches (each with a promise) per received packet and three async
  hops per sent one. The servers' RTCP (sender and receiver reports) is
  dropped unread: the client uses none of it. Measured in short runs against
  the SFU, this halved the clients' CPU per delivered packet: 1x15 about
  45 → 20 µs (the SFU about 20), 1x25 21 → 9 µs (the SFU 10). In the smallest
  rooms they still cost about as much per packet as the server or more: the
  fixed costs of a process (send timers, a wake-up per datagram) are shared by
  only a few thousand packets/s, a few % of a core. The layer
  is checked against werift's SRTP and Chromium (\`test/media\`,
  \`test/browser\`), and every payload's checksum still checks each forwarded
  packet end to end. \`BENCH_WERIFT_RECEIVE=1\` and \`BENCH_WERIFT_SEND=1\` put
  receiving and sending back on werift's own path (a track whose SSRC is not
  signalled is received through werift regardless, with a warning);
- one payload buffer per process with pre-cut views for every length: the
  payload is written in place and encrypted straight into the datagram;
- peers start at random phases within the 20 ms frame, so sends do not burst;
- a client's event-loop delay is read from its send timers, not from a
  monitor's own 10 ms timer (about 3 ms of CPU a second per process, measured
  on an idle Node process here);
- the receive path is one checksum, a few reads and one histogram increment —
  no per-packet allocation, logging or promise of ours;
- the clients send no RTCP receiver reports, as before this path existed
  (werift's receiver starts its report loop only once its own receive path has
  seen a packet); neither target uses them, and the SFU drops them unread;
- the client offers Opus without RTCP feedback and only the \`mid\` header
  extension, so werift keeps no TWCC/NACK state per packet on the client;
- on loopback the kernel delivers a datagram in the *sender's* system call, so
  most of the UDP cost lands on the side that sends more — the server;
- the clients run under Linux's \`SCHED_BATCH\` policy (\`chrt --batch\`;
  \`--no-batch-clients\` turns it off). Each datagram the server sends wakes a
  client, and a normal-policy client then preempts the server on that CPU: two
  context switches per wake-up, charged to the server, that remote clients never
  cause. Batch tasks may not preempt on wake-up. Both targets run the same way;
  measured at 1x15 on a busy machine it took about a fifth off the SFU's CPU per
  packet and left the naive relay's unchanged, so ratios from runs with and
  without it do not compare.

The tables show the load clients' CPU and event-loop delay beside the
server's, and the CPU everything else on the machine used during the window
("other CPU"). When the clients' share nears a core, or other CPU is high (the
machine is shared), latency tails say more about the machine than about the
server.

### Known limits

- Server, load clients and anything else running share one 2-core machine; p99
  latency in particular moves with other load (see "other CPU"), so compare the
  two targets within one run rather than across runs.
- Both targets' CPU per packet moves between runs: in five full runs the naive
  relay read 60.7, 54.7, 40.7, 50.0 and 54.0 µs at 1x5 (the SFU 24.0, 25.3,
  20.0, 20.7 and 26.7) and 26.3, 24.0, 24.1, 25.8 and 28.8 µs at 1x15 (the SFU
  10.3, 7.9, 7.9, 9.9 and 9.0). A ratio from one run carries that spread.
- **Small rooms stay near half the naive relay's CPU per packet.** Over those
  five runs the SFU used 0.26–0.45 of the naive relay's CPU per packet from 1x10
  up (a third or less in 7 of the 20 scenario runs) and 0.34–0.59 at 1x5 and
  4x5. Small rooms are priced by wake-ups, which every Node forwarder pays: at
  1x5 the bare forwarder of "Node's UDP floor" cost 22.7, 16.7, 15.3, 16.0 and
  20.7 µs per packet, against a third of the naive relay of 20.2, 18.2, 13.6,
  16.7 and 18.0 µs, so a forwarder with no WebRTC at all came within 1.5 µs of
  that mark or went over it. The SFU's idle timers and five silent connections
  add 4–8 µs per packet at that rate (the idle and silent rows). At 4x5 a third
  of the naive relay left 1.7–6.5 µs per packet above the floor; the SFU sat
  6.2–8.4 µs above it (17.0 in one run, in which the load clients too cost
  nearly twice their usual CPU per packet), 2–3.5 of them idle and connection
  upkeep, the rest SRTP both ways, RTCP and header writing for 1,000 received
  datagrams a second.
- Loopback only: no loss, jitter or NIC cost. The clients are werift peers, not
  browsers (no Opus encoder, no jitter buffer).
- Latency is stamped when a client's event loop handles the packet, so it
  includes queueing in the client; the clients' own event-loop delay is shown.
- The clients send no RTCP receiver reports (with \`BENCH_WERIFT_RECEIVE=1\`
  werift's receivers do); neither target uses them for forwarding.
- Join time leaves out the first peer of each room; peers of a room join one at a
  time (rooms in parallel). A peer that waits longer than 10 s is counted as
  never having heard everyone, and the rest of its room then joins without waiting.
- CPU comes from /proc in 10 ms ticks, fine for windows of several seconds.
- The load search covers single rooms only, with at most five short probes: it is
  a bound to within a peer or two, not a precise capacity.
- The naive relay is a baseline, not a product: it skips validation, limits,
  resume, and every other part of the protocol the load clients do not use.`;

const HOW_IT_FORWARDS = `## How the SFU forwards

werift runs ICE, DTLS, the SDP side and RTCP. The per-packet path is the SFU's
own (\`lib/media\`), keyed from the SRTP keys werift negotiated
(\`dtlsTransport.srtp.config\`):

- **Receive.** For a published track whose SSRC the publisher signalled,
  \`MediaTransport\` takes its datagrams off the ICE connection's data event
  before werift sees them; \`SrtpContext\` authenticates, drops replays (a
  128-packet window, RFC 3711 §3.3.2) and decrypts in place, and \`readRtp\`
  fills one reused view. No werift decrypt, parse, routing, clone or
  event dispatch per packet. The SFU sends the RTCP receiver reports for these
  streams itself (RFC 3550 statistics), and drops incoming receiver reports (the
  clients' view of what the SFU sends) unread. Everything else — DTLS, sender
  reports, unknown SSRCs — goes on to werift.
- **Send.** Per subscriber, \`ForwardedTrack\` writes the header (the receiver's
  SSRC, payload type, \`mid\` and audio-level ids; sequence number and timestamp
  continuous across source restarts) into a fresh datagram buffer,
  \`SrtpContext.protect\` encrypts the payload into it and appends the tag, and
  the datagram goes straight to the selected UDP pair's socket under werift's
  consent rules. The SFU sends the RTCP sender reports for these streams itself.
- **SRTP.** AES_CM_128_HMAC_SHA1_80 (what Chromium negotiates with the SFU) and
  AEAD_AES_128_GCM (what werift peers negotiate). One AES-ECB cipher per session
  makes counter-mode keystream for 16 packets per native call; HMAC-SHA1 (from
  precomputed ipad/opad states) and GHASH (a 4 KB table per key) run in
  JavaScript and allocate nothing per packet. werift's own SRTP creates a cipher
  and an HMAC per packet and re-serialises the header for every receiver.
  \`test/media/srtp.test.ts\` checks the layer against werift's SRTP in both
  directions and across rollover-counter wraps; \`test/browser/mediaPath.test.ts\`
  checks that Chromium authenticates the packets and shows the SFU's sender and
  receiver reports in its stats.
- **Fallback.** A receiver whose extension ids or \`mid\` do not fit the one-byte
  header form, or an SRTP profile the layer lacks, keeps werift's
  \`sender.sendRtp\`; a publisher that signals no SSRC keeps werift's receive
  path. A track keeps the path it started on.
- **Threads.** With \`SFU_WORKERS=N\` each room runs whole on one of N worker
  threads (its own \`SfuService\`, werift connections and sockets), so a packet is
  received, encrypted and sent on one thread; only signaling and room state
  cross to the main thread, over the worker's message port.

What is left per forwarded packet (a 1x15 profile): about 40 % is the kernel's
UDP send, 15 % SRTP, 10 % the receive side (a source packet's cost shared by 14
receivers), the rest header writing, Node's \`dgram\` send path and timers.
\`npm run bench -- --profile=DIR\` writes a V8 CPU profile of every target run
(and of its load clients).

### Reading the numbers

- **The kernel floor.** A UDP send on loopback costs the sender 3–5 µs of system
  time here whatever forwards it, more at low packet rates, where nearly every
  datagram wakes an idle client process. Small rooms (1x5) are dominated by such
  per-wake-up costs, not by per-packet work: at 1x5 the server receives 250
  datagrams a second and sleeps between almost every two. Holding a connection
  costs the SFU about 0.25–0.65 ms of CPU per second in most scenarios of the
  last five full runs, up to 1.07 at 1x5 (the silent-connection rows); a silent
  connection exchanges under one datagram a second with its client, the ICE
  consent checks (25 silent connections: about 20 datagrams a second in all).
  "Node's UDP floor on this machine" below measures, per scenario, what a bare
  Node forwarder with no WebRTC costs for the same traffic.
- **RSS per peer** is read without forcing a garbage collection, so it counts
  garbage as well as live memory; the "after a full GC" rows read RSS 1 s after
  the server ran two full collections on request (the bench starts it with
  \`--expose-gc\`, which makes SIGUSR2 run them, server/debugGc.ts; production
  command lines do not pass it), idle before any join and loaded with every
  peer still connected after the window. RSS keeps pages V8 or malloc have
  freed but not returned, so even that figure is above the live heap. Two V8 defaults make that garbage large under
  per-packet allocation, and the SFU runs with a flag against each (Procfile,
  \`npm start\`, and these targets):
  \`--max-semi-space-size=2\` keeps the young generation at 2 × 2 MB instead of
  letting it grow to 2 × 16 MB, and \`--heap-growing-percent=20\` lets the old
  generation grow by a fixed 20 % before a full collection instead of V8's
  dynamic factor, which waited until promoted packet buffers (datagrams still in
  flight at a scavenge) had more than doubled it: at 1x25 old space grew by
  71 MB under load with the default and by 28 MB with the flag, CPU per packet
  unchanged within the noise. The live heap after a full collection is about
  0.8 MB per peer, most of it werift's per-transceiver state (a room of N holds
  N² transceivers); the SFU leaves out the werift events the forwarding path
  never uses, and keeps each SRTP keystream batch in a buffer of its own so
  that the cipher's output dies young. Part of the growth does not depend on
  the peers: the young generation grows from its idle size to the 2 × 2 MB cap
  once packets flow, and V8 compiles the forwarding path (the heap-growth
  rows). In the smallest rooms that fixed part, divided by 5 peers, is a good
  share of the per-peer figure. The idle RSS itself differs by several MB
  from one start of the same server to the next, which moves the 1x5 figure
  by about 1 MB per peer.
- **Worker threads** (\`SFU_WORKERS\`) each run their own V8 heap and event loop:
  they add RSS (tens of MB each) and a fixed CPU share, and pay off once one
  thread's load nears a core, which these 2-core runs cannot reach with the load
  clients on the same cores. The scaling section below shows how the work splits.`;

/** The whole of docs/PERFORMANCE.md (before prettier). */
export function renderMarkdown(input: ReportInput): string {
  const parts: string[] = [];
  parts.push("# Forwarding performance", "", HOW_IT_FORWARDS, "", HOW_TO_RUN, "", "## Results", "");
  parts.push(
    `- Machine: ${input.machine}`,
    `- Command: \`${input.command}\`${input.quick ? " (quick run)" : ""}`,
    `- SFU started as: \`${input.sfuCommand}\``,
    ...(input.compare ? [`- ${label(input.compare.target)} started as: \`${input.compare.command}\``] : []),
    `- Run: ${input.startedAt}, ${Math.round(input.durationSeconds)} s in all; ` +
      `${input.seconds} s measurement window per scenario` +
      (input.searches.length > 0 ? `, ${input.searchSeconds} s per search probe` : "") +
      `; one load-client process per 40,000 forwarded packets/s, at most ${input.clientProcesses}` +
      (input.batchClients === undefined
        ? ""
        : input.batchClients
          ? ", under SCHED_BATCH"
          : ", under the normal scheduling policy"),
    "",
  );
  const all = [
    ...input.scenarios.flatMap((s) => s.results),
    ...input.searches.flatMap((s) => s.probes),
    ...(input.scaling?.scenarios.flatMap((s) => s.results) ?? []),
    ...(input.connectivity?.run.results ?? []),
  ];
  const busiest = Math.max(0, ...all.map((r) => r.otherCpuPercent).filter(Number.isFinite));
  if (busiest > BUSY_MACHINE_PERCENT) {
    parts.push(
      `> **Shared machine.** Other work used up to ${busiest.toFixed(0)} % of a core during some ` +
        `measurement windows (row "other CPU"). Latency tails and the load search are pessimistic ` +
        `for those rows; the targets of a table ran back to back, so compare them row by row.`,
      "",
    );
  }
  if (input.chartFile) {
    parts.push(`![Server CPU per forwarded packet and p99 latency against load](${input.chartFile})`, "");
  }
  for (const run of input.scenarios)
    parts.push(...scenarioSection("###", run, mainComparison(input.compare?.target)));
  if (input.scenarios.some((run) => run.floor)) parts.push(...floorSection(input));
  if (input.audience) parts.push(...audienceSection(input.audience, input.compare?.target));
  if (input.fills && input.fills.length > 0) parts.push(...fillSection(input.fills, input.compare?.target));
  if (input.cluster) parts.push(...clusterSection(input.cluster));
  if (input.searches.length > 0) {
    parts.push(
      "### Largest load",
      "",
      `The largest single room (1×N, every peer hearing every other) with delivery ≥ ${(PASS_DELIVERY * 100).toFixed(1)} %, ` +
        `latency p99 ≤ ${PASS_P99_MS} ms and every peer connected. The search starts above the largest 1×N ` +
        `scenario that passed, grows by 5 peers until a probe fails, then halves the gap; at most a handful of probes.`,
      "",
      markdownTable([
        [
          "target",
          "largest passing load",
          "forwarded packets/s",
          "server CPU µs / packet",
          "latency p99 (ms)",
          "probes (N: delivery, p99)",
        ],
        ...input.searches.map((s) => [
          label(s.target),
          s.best ? scenarioName(s.best.scenario) : "none",
          s.best ? integer(s.best.forwardedPerSecond) : "",
          s.best ? fixed(1)(s.best.cpuMicrosPerPacket) : "",
          s.best ? fixed(1)(s.best.latencyMs.p99) : "",
          s.probes
            .map((p) =>
              p.error === null
                ? `${p.scenario.peersPerRoom}: ${percent(p.deliveryRatio)}, ${fixed(1)(p.latencyMs.p99)} ms`
                : `${p.scenario.peersPerRoom}: failed`,
            )
            .join("; "),
        ]),
      ]),
      "",
    );
  }
  if (input.connectivity) parts.push(...connectivitySection(input.connectivity));
  if (input.onePortScale) parts.push(...onePortScaleSection(input.onePortScale));
  if (input.scaling && input.scaling.scenarios.length > 0)
    parts.push(...scalingSection(input, input.scaling));
  return parts.join("\n");
}

/** "Node's UDP floor on this machine": the bare forwarder per scenario, beside the SFU. */
function floorSection(input: ReportInput): string[] {
  const parts = [
    "### Node's UDP floor on this machine",
    "",
    "A reference, not a target. After each scenario's targets the bench runs the least a Node process " +
      "can do to forward the same traffic: `bench/floor-forwarder.ts` holds one `dgram` socket per peer, " +
      "copies each datagram that arrives into a fresh `Buffer` for every other peer of the room and sends " +
      "it with `socket.send` from that peer's socket to that peer on 127.0.0.1. The peers are a separate " +
      "process (`bench/floor-peers.ts`, under the same scheduling policy as the load clients): one " +
      "socket each, an 80–120-byte datagram every 20 ms, phases spread over the 20 ms. The floor is the " +
      `forwarder process's utime+stime over a ${input.seconds} s window, opened ` +
      `${FLOOR_WARMUP_MS / 1000} s after the first send, ÷ the datagrams it sent.`,
    "",
    "What it leaves out: ICE, DTLS, SRTP (no encryption, no authentication tag), RTP header rewriting, " +
      "RTCP, timers, signaling and metrics — everything WebRTC and the SFU add. What it keeps: a wake-up " +
      "per arriving datagram, Node's `dgram` receive and send path, and the kernel's UDP send. On loopback " +
      "that send also runs the receiving side's network stack up to the receiver's socket, work that on a " +
      "real network the receiving machine would do. Per-wake-up costs are shared by fewer packets in small " +
      "rooms, so the floor is highest at 1x5.",
    "",
    "It is what the simplest Node forwarder costs for this traffic here, not a proven lower bound: at " +
      "low rates its kernel share can come out above the SFU's, probably because it sleeps between " +
      "datagrams and pays a wake-up for nearly every one. SFU − floor is roughly what WebRTC, SRTP and " +
      "the SFU's own code add per packet. The floor and the SFU ran a minute or two apart on a shared machine, so small " +
      "differences mean little.",
    "",
    markdownTable(floorCells(input.scenarios)),
    "",
  ];
  const lossy = input.scenarios.filter((run) => run.floor && run.floor.deliveryRatio < PASS_DELIVERY);
  if (lossy.length > 0) {
    parts.push(
      `The floor's peers received under ${(PASS_DELIVERY * 100).toFixed(1)} % of what the forwarder sent in ` +
        `${lossy.map((run) => scenarioName(run.scenario)).join(", ")}: the machine dropped datagrams there.`,
      "",
    );
  }
  for (const run of input.scenarios.filter((r) => r.floor?.error)) {
    parts.push(`Floor ${scenarioName(run.scenario)} failed: \`${run.floor!.error!.split("\n")[0]}\``, "");
  }
  return parts;
}

/** "Connectivity": the plain SFU beside its relay-only and one-port variants, on one scenario. */
function connectivitySection(section: ConnectivitySection): string[] {
  const { run } = section;
  const parts = [
    "### Connectivity: relay-only through coturn, one UDP port",
    "",
    `The ${scenarioName(run.scenario)} scenario again with the SFU set up as PROTOCOL §13 lets a deployment ` +
      "set it up, beside the plain SFU (from the scenario table above when that ran in the same run). " +
      "**Relay**: a coturn (Debian's `turnserver`, `use-auth-secret`, UDP, on loopback) started for the " +
      "run; the SFU runs with `ICE_RELAY_ONLY=true` and `ICE_RELAY_ONLY_CLIENTS=true`, so it allocates " +
      'its own relayed candidate and the load clients relay too (`iceTransportPolicy: "relay"` with the ' +
      "credentials from `joined.iceServers`): every packet crosses coturn into the SFU and every forwarded " +
      "packet crosses it again on the way out, as on a platform without inbound UDP. coturn does real work " +
      "on that path, so its CPU (utime+stime of the `turnserver` process over the window) is shown on rows " +
      "of its own, not in the SFU's. **One port**: the SFU with `ICE_UDP_PORT` set, every peer on one " +
      "shared UDP socket. The naive relay and a `--compare` target do not run these variants.",
    "",
    ...section.commands.map(({ target, command }) => `- ${label(target)}: \`${command}\``),
    "",
    markdownTable(tableCells(run.results, CONNECTIVITY)),
    "",
  ];
  const note = ratioNote(run.results);
  if (note) parts.push(note, "");
  for (const failed of run.results.filter((r) => r.error !== null)) {
    parts.push(`${label(failed.target)} failed: \`${failed.error!.split("\n")[0]}\``, "");
  }
  return parts;
}

/** The one-port scale run's figures, as rows of label and value. */
function onePortScaleCells(result: OnePortScaleResult): string[][] {
  const ms = fixed(0);
  return [
    ["", "value"],
    ["peers connected (ICE and DTLS)", `${integer(result.connected)} of ${integer(result.peers)}`],
    [
      "join → connected p50 / p95 / max (ms)",
      `${ms(result.connectMs.p50)} / ${ms(result.connectMs.p95)} / ${ms(result.connectMs.max)}`,
    ],
    ["first join → last peer connected (s)", fixed(1)(result.joinPhaseSeconds)],
    [`delivery over ${result.seconds} s`, percent(result.deliveryRatio)],
    [
      "packets sent / the SFU received, in the window",
      `${integer(result.sent)} / ${integer(result.serverReceived)}`,
    ],
    [
      "forwards owed / the SFU forwarded / delivered, in the window",
      `${integer(result.expected)} / ${integer(result.serverForwarded)} / ${integer(result.delivered)}`,
    ],
    [
      "tracks / subscriptions at the SFU at the end of the window",
      `${integer(result.tracks)} / ${integer(result.subscriptions)}`,
    ],
    ["corrupt packets", integer(result.corrupt)],
    ["UDP sockets the SFU process holds", integer(result.udpSockets)],
    ["… bound to ICE_UDP_PORT", integer(result.udpSocketsOnPort)],
    [
      "datagrams the kernel dropped at that socket: in the window / since it opened",
      `${integer(result.kernelDrops)} / ${integer(result.kernelDropsTotal)}`,
    ],
    ["bytes queued at that socket, unread, at the end of the window", integer(result.receiveQueueBytes)],
    [
      "RSS idle → all connected (MB)",
      `${fixed(0)(result.rssIdleBytes / MB)} → ${fixed(0)(result.rssFullBytes / MB)}`,
    ],
    ["SFU CPU per join (ms)", fixed(1)(result.cpuMsPerJoin)],
    ["SFU CPU over the window, % of one core", fixed(1)(result.serverCpuPercent)],
    ["load clients CPU over the window, % of one core", fixed(1)(result.clientCpuPercent)],
    ["other CPU on the machine, % of one core", fixed(1)(result.otherCpuPercent)],
    ["SFU event-loop delay p99 over the window (ms)", fixed(1)(result.eventLoopP99Ms)],
    ["machine load average (1 min) at the end of the window", fixed(1)(result.loadAverage)],
  ];
}

/** The one-port scale run for the terminal. */
export function consoleOnePortScale(result: OnePortScaleResult): string {
  if (result.error !== null) return `    failed: ${result.error}`;
  return [
    ...plainTable(onePortScaleCells(result)),
    ...result.errors.map(({ error, peers }) => `  ${peers} peer(s): ${error}`),
  ].join("\n");
}

/** "One port, many peers": the scale run. */
function onePortScaleSection(result: OnePortScaleResult): string[] {
  const parts = [
    `### One UDP port, ${result.peers} peers`,
    "",
    `${result.peers} werift peers in ${result.rooms} rooms of ${result.peersPerRoom} join an SFU started ` +
      `with \`ICE_UDP_PORT\`, ${result.joinConcurrency} joins in flight at a time, spread over 4 load-client ` +
      `processes. Each peer publishes one packet every ${result.sendIntervalMs} ms, so that ${result.peers} ` +
      `connections forward a load this machine carries beside ${result.peers} werift clients: the run is ` +
      "about holding every peer on one socket, not about throughput (the scenario tables are). Connected " +
      "is the client's peer connection reaching `connected` (ICE and DTLS) within 30 s of its join. " +
      `Delivery is over a ${result.seconds} s window once everyone joined. Sockets are the SFU process's ` +
      "file descriptors matched against `/proc/net/udp`.",
    "",
  ];
  if (result.error !== null) {
    parts.push(`Failed: \`${result.error.split("\n")[0]}\``, "");
    return parts;
  }
  parts.push(markdownTable(onePortScaleCells(result)), "");
  if (result.errors.length > 0) {
    parts.push(
      "Peers that did not connect: " +
        result.errors.map(({ error, peers }) => `${peers} × \`${error}\``).join("; ") +
        ".",
      "",
    );
  }
  return parts;
}

/** "Worker scaling (1 → 2 workers)": per scenario, the two worker targets side by side. */
function scalingSection(input: ReportInput, scaling: ScalingSection): string[] {
  // The machine line starts with the CPU count (describeMachine).
  const cores = /^(\d+) ×/.exec(input.machine)?.[1];
  const sameCores = cores === undefined ? "the same cores" : `the same ${cores} cores`;
  const parts = [
    "### Worker scaling (1 → 2 workers)",
    "",
    `The SFU with forwarding spread over 1 and over 2 worker threads (\`SFU_WORKERS\`), on scenarios ` +
      `with several rooms for the workers to share out; each scenario ran both back to back, ` +
      `${input.seconds} s window each. The load is fixed per scenario, so forwarded packets/s only ` +
      `differs where a target drops packets: a second worker shows in latency, delivery and CPU. ` +
      `SFU process CPU is utime+stime of all the process's threads over wall time, so with 2 workers ` +
      `it can exceed 100 % of one core. Event-loop delay is what the SFU's \`/metrics\` reports ` +
      `(prom-client's default metrics, the thread that serves \`/metrics\`).`,
    "",
    `The load clients share ${sameCores} with the SFU, so the ceiling in these runs is the machine, ` +
      `not the SFU: read the load-client and other-CPU rows before the SFU's.`,
    "",
    `The thread rows split the SFU process's CPU by thread (utime+stime from \`/proc/<pid>/task/<tid>/stat\` ` +
      `over the window): the main thread (signaling, HTTP, \`/metrics\`), each forwarding worker thread, ` +
      `busiest first, and every other thread summed. Node 20 names all its threads \`node\`, so the ` +
      `forwarding threads are taken to be the \`SFU_WORKERS\` busiest threads besides the main one that ` +
      `the kernel showed waiting in epoll (event loops) rather than parked on a futex (V8 and libuv helpers). ` +
      `The projected ceiling is forwarded packets/s ÷ the busiest of those threads' share of a core, the ` +
      `load at which that thread would reach 100 % of a core; it is a projection, not a measurement: it ` +
      `assumes the CPU cost per packet stays flat as load grows, and the load clients that would have ` +
      `to generate that load share ${sameCores} with the SFU.`,
    "",
    ...scaling.commands.map(({ target, command }) => `- ${label(target)}: \`${command}\``),
    "",
  ];
  for (const run of scaling.scenarios) parts.push(...scenarioSection("####", run, TWO_WORKERS_VS_ONE));
  return parts;
}

/** One scenario's heading, table, and why ratios or targets are missing. */
function scenarioSection(
  heading: string,
  { scenario, results }: ScenarioRun,
  comparison: Comparison,
): string[] {
  const parts = [
    `${heading} ${scenarioName(scenario)}: ${scenario.rooms} room(s) × ${scenario.peersPerRoom} peers`,
    "",
    `Nominal load ${nominalForwardedPerSecond(scenario).toLocaleString("en-US")} forwarded packets/s.`,
    "",
    markdownTable(tableCells(results, comparison)),
    "",
  ];
  const note = ratioNote(results);
  if (note) parts.push(note, "");
  for (const failed of results.filter((r) => r.error !== null)) {
    parts.push(`${label(failed.target)} failed: \`${failed.error!.split("\n")[0]}\``, "");
  }
  return parts;
}
