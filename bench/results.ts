/** Shapes of what the bench measures and reports. */

/** Rooms × peers per room. */
export interface Scenario {
  rooms: number;
  peersPerRoom: number;
  /**
   * The audience scenario: only the first `speakers` peers of a room publish; the rest listen
   * (see PeerSpec.listenOnly). Absent: every peer publishes.
   */
  speakers?: number;
}

/** Report labels of the bench's targets (see targetSpecs in options.ts). */
export const TARGET_LABELS: Record<string, string> = {
  sfu: "SFU",
  naive: "naive relay",
  "sfu-1w": "SFU, 1 worker",
  "sfu-2w": "SFU, 2 workers",
  "sfu-relay": "SFU, relay-only via coturn",
  "sfu-one-port": "SFU, one UDP port",
};

/** The SFU with forwarding in 1 and in 2 worker threads (`SFU_WORKERS`), compared by the scaling runs. */
export const SCALING_TARGETS = ["sfu-1w", "sfu-2w"] as const;

/** The SFU's connectivity variants (PROTOCOL §13), run beside the plain SFU on one scenario. */
export const CONNECTIVITY_TARGETS = ["sfu-relay", "sfu-one-port"] as const;

export function targetLabel(target: string): string {
  return TARGET_LABELS[target] ?? target;
}

export function scenarioName(scenario: Scenario): string {
  if (scenario.speakers !== undefined)
    return `${scenario.speakers}+${scenario.peersPerRoom - scenario.speakers}`;
  return `${scenario.rooms}x${scenario.peersPerRoom}`;
}

/** Peers of a room that publish: all of them, or the audience scenario's speakers. */
export function publishersPerRoom(scenario: Scenario): number {
  return scenario.speakers ?? scenario.peersPerRoom;
}

/** Packets the scenario's load delivers per second at 50 packets/s per publisher, each to every other peer. */
export function nominalForwardedPerSecond(scenario: Scenario): number {
  return scenario.rooms * publishersPerRoom(scenario) * (scenario.peersPerRoom - 1) * 50;
}

export interface ScenarioResult {
  target: string;
  scenario: Scenario;
  peers: number;
  /** Measurement window length. */
  seconds: number;
  /** Packets expected at receivers (sent in window × other peers in the room). */
  expected: number;
  /** Intact packets received whose send time lay in the window. */
  delivered: number;
  deliveryRatio: number;
  forwardedPerSecond: number;
  /** Server process tree utime+stime over the window ÷ packets delivered. */
  cpuMicrosPerPacket: number;
  /** The kernel (system time) part of cpuMicrosPerPacket: mostly the UDP sends. Absent in older results. */
  systemMicrosPerPacket?: number;
  /** Server CPU (utime+stime of every thread) over wall time, % of one core: above 100 with worker threads. */
  serverCpuPercent: number;
  latencyMs: { p50: number; p95: number; p99: number };
  /** Join sent → first packet from every peer already in the room (peers with at least one). */
  joinMs: { p50: number; p95: number; samples: number };
  /** Peers that had someone to hear from but never heard from all of them. */
  joinIncomplete: number;
  iceFailed: number;
  corrupt: number;
  outOfOrder: number;
  unknownStreamTracks: number;
  /**
   * Server process tree utime+stime per second of wall time over 5 s of idling before any join, once
   * start-up garbage is collected, in ms per s (0.1 % of a core each). Absent in older results.
   */
  idleCpuMsPerSecond?: number;
  /**
   * The same, over 5 s with every peer still connected but none sending, after the window: the
   * cost of holding the connections. Absent in older results and in search probes.
   */
  silentCpuMsPerSecond?: number;
  rssIdleBytes: number;
  rssLoadedBytes: number;
  rssPerPeerBytes: number;
  /**
   * The same two readings each taken 1 s after a full GC the server ran on request (SIGUSR2 under
   * `--expose-gc`), the per-peer one with every peer still connected after the window. Absent in
   * older results and for targets that take no such request.
   */
  rssIdleAfterGcBytes?: number;
  rssPerPeerAfterGcBytes?: number;
  /**
   * Growth of the main thread's V8 heap spaces (reserved size) from the idle server to the end of
   * the window, from prom-client's `nodejs_heap_space_size_total_bytes`. Absent in older results
   * and when the target exposes no such metric.
   */
  heapGrowthBytes?: HeapGrowth;
  /** Server event-loop delay p99 over the window (NaN when the target exposes none). */
  eventLoopP99Ms: number;
  /** Load-client processes the peers were spread over. Absent in older results. */
  clientProcesses?: number;
  /** Load clients' CPU as a percentage of one core, and per delivered packet. */
  clientCpuPercent: number;
  clientCpuMicrosPerPacket: number;
  /** Everything else the machine ran during the window (other users, the orchestrator, the kernel), % of one core. */
  otherCpuPercent: number;
  /** Worst load-client process's event-loop delay p99: high means the clients, not the server, add latency. */
  clientEventLoopP99Ms: number;
  /**
   * The relay variant's coturn, which carries every packet into the SFU and every forwarded packet
   * out of it: its utime+stime per delivered packet and over wall time (% of one core). Absent otherwise.
   */
  turnServer?: {
    cpuMicrosPerPacket: number;
    cpuPercent: number;
    /** The SFU's peers whose selected pair is relayed on its side, at the end of the window (`sfu_ice_selected_pairs`). */
    relayedPeers: number;
  };
  /** The server's own forwarded-packet counter over the window, when it exposes one. */
  serverCountedForwards: number | null;
  /** The server process's CPU split by thread over the window. Absent in older results and failed runs. */
  threadCpu?: ThreadCpu;
  /** Set when the scenario could not run to the end. */
  error: string | null;
}

/** V8 heap growth by space, in bytes; `old` takes in large objects. */
export interface HeapGrowth {
  young: number;
  code: number;
  old: number;
}

/**
 * Where the server process's CPU went over the window, by thread, each in % of one
 * core (utime+stime over wall time). See threads.ts for how threads are told apart.
 */
export interface ThreadCpu {
  /** The process's first thread: signaling, HTTP, `/metrics`; forwarding too when there are no workers. */
  mainPercent: number;
  /** Each forwarding worker thread, busiest first; empty when forwarding runs in the main thread. */
  forwardingPercent: number[];
  /** Every other thread summed: V8's platform threads, libuv's pool, loader threads, threads that ended. */
  restPercent: number;
  /** Threads the process had at the end of the window. */
  threads: number;
}

/** The busiest single thread among the main and forwarding threads, % of one core. */
export function busiestThreadPercent(threadCpu: ThreadCpu): number {
  return Math.max(threadCpu.mainPercent, ...threadCpu.forwardingPercent);
}

/**
 * The Node UDP floor for one scenario (measureFloor.ts): a bare dgram forwarder
 * carrying the scenario's traffic, with no WebRTC at all. A reference, not a target.
 */
export interface FloorResult {
  scenario: Scenario;
  /** Measurement window length. */
  seconds: number;
  /** Datagrams the forwarder sent over the window, per second. */
  forwardedPerSecond: number;
  /** Datagrams the peers received ÷ datagrams the forwarder sent, over the window. */
  deliveryRatio: number;
  /** Forwarder process utime+stime over the window ÷ datagrams it sent. */
  cpuMicrosPerPacket: number;
  /** The kernel (system time) part of cpuMicrosPerPacket. */
  systemMicrosPerPacket: number;
  /** Forwarder CPU over wall time, % of one core. */
  cpuPercent: number;
  /** Set when the floor could not be measured. */
  error: string | null;
}

/** One scenario's results, one per target, in the order the targets ran. */
export interface ScenarioRun {
  scenario: Scenario;
  results: ScenarioResult[];
  /** The Node UDP floor for the scenario; absent when it did not run, and in older results. */
  floor?: FloorResult;
}

/**
 * One room filled by peers joining a fixed gap apart, none waiting for another (runFill.ts):
 * how long a newcomer waits to hear everyone already there, and the SDP it took.
 */
export interface FillResult {
  target: string;
  peers: number;
  /** Time between two joins. */
  joinGapMs: number;
  /** Time between two packets of one peer during the fill. */
  sendIntervalMs: number;
  /** Join sent → first packet from every peer already in the room, over the peers that had someone to hear. */
  hearMs: { p50: number; p95: number; max: number; samples: number };
  /** The same over the last tenth of the joins: the room at its fullest. */
  lastTenthHearMs: { p50: number; p95: number };
  /** Join sent → a forwarded track for every peer already there, ICE connected (no packet wait). */
  tracksMs: { p50: number; p95: number };
  /** Peers that had someone to hear and did not hear everyone within the ready timeout. */
  incomplete: number;
  iceFailed: number;
  /** Peers whose own connection failed: in ICE (no answer to their checks) or in the DTLS handshake after it. */
  clientFailed: { ice: number; dtls: number };
  /** The server's event-loop delay over the fill (prom-client's monitor, 10 ms resolution), ms. */
  eventLoopDelayMs: { p99: number; max: number };
  /** What the server warned about during the fill, by message, with counts. */
  serverWarnings: Record<string, number>;
  /** SDP that crossed the signaling channel during the fill, both ways, and the server's offers. */
  sdpFromServerBytes: number;
  sdpToServerBytes: number;
  serverOffers: number;
  /** First join sent → every peer heard everyone (or gave up). */
  fillSeconds: number;
  /** Server CPU over the fill, µs per join. */
  cpuMicrosPerJoin: number;
  /** The load clients' CPU over the fill (all processes), µs per join. */
  clientCpuMicrosPerJoin: number;
  /** Server tree RSS once the room is full. */
  rssFullBytes: number;
  error: string | null;
}

/** Delivery and latency limits the load search holds a target to. */
export const PASS_DELIVERY = 0.995;
export const PASS_P99_MS = 50;

export function passes(result: ScenarioResult): boolean {
  return (
    result.error === null &&
    result.iceFailed === 0 &&
    result.deliveryRatio >= PASS_DELIVERY &&
    result.latencyMs.p99 <= PASS_P99_MS
  );
}

export function percentile(values: readonly number[], fraction: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
  return sorted[rank]!;
}

/** One node of the `3 nodes` scenario (runCluster.ts): the rooms placed on it and what it cost. */
export interface ClusterNodeResult {
  nodeId: string;
  /** Rooms whose media the cluster placed on this node, and their members. */
  rooms: number;
  peers: number;
  /** Peers whose Socket.IO connection this node took, wherever their room runs. */
  sockets: number;
  /** Packets the receivers in this node's rooms got over the window, ÷ what its rooms' senders owed them. */
  expected: number;
  delivered: number;
  deliveryRatio: number;
  forwardedPerSecond: number;
  /** This node's process utime+stime over the window ÷ the packets its rooms delivered; NaN with no room. */
  cpuMicrosPerPacket: number;
  serverCpuPercent: number;
  /** The node's own forwarded-packet counter over the window. */
  serverCountedForwards: number | null;
  rssIdleBytes: number;
  rssLoadedBytes: number;
  eventLoopP99Ms: number;
}

/** The `3 nodes` scenario: rooms spread over three SFU nodes and one Redis, some sessions signaled through another node. */
export interface ClusterResult {
  scenario: Scenario;
  seconds: number;
  nodes: ClusterNodeResult[];
  expected: number;
  delivered: number;
  deliveryRatio: number;
  forwardedPerSecond: number;
  /** Every node's CPU over the window ÷ every packet delivered: beside the single node's figure. */
  cpuMicrosPerPacket: number;
  latencyMs: { p50: number; p95: number; p99: number };
  /** Join sent → first packet from every peer already there, socket on the room's node. */
  directJoinMs: { p50: number; p95: number; samples: number };
  /** The same with the socket on another node, which relays the session's signaling over Redis. */
  relayedJoinMs: { p50: number; p95: number; samples: number };
  joinIncomplete: number;
  iceFailed: number;
  corrupt: number;
  clientCpuPercent: number;
  otherCpuPercent: number;
  error: string | null;
}

/** The `3 nodes` scenario beside the single-node SFU on the same rooms, in the same run. */
export interface ClusterRun {
  scenario: Scenario;
  single: ScenarioResult;
  cluster: ClusterResult;
}

/**
 * Many peers on the SFU's one UDP port (ICE_UDP_PORT, runOnePortScale.ts): whether they all connect,
 * how long it takes, and what the process holds once they have.
 */
export interface OnePortScaleResult {
  peers: number;
  rooms: number;
  peersPerRoom: number;
  /** Joins in flight at once. */
  joinConcurrency: number;
  /** Milliseconds between one peer's packets. */
  sendIntervalMs: number;
  /** Peers whose connection reached `connected` (ICE and DTLS). */
  connected: number;
  /** Join sent → connected (ICE and DTLS), over the peers that connected. */
  connectMs: { p50: number; p95: number; max: number };
  /** First join sent → the last peer connected or gave up. */
  joinPhaseSeconds: number;
  /** The first few distinct join errors, with how many peers had each. */
  errors: Array<{ error: string; peers: number }>;
  /** Measurement window, and delivery over it (packets sent × other peers of the room). */
  seconds: number;
  expected: number;
  delivered: number;
  deliveryRatio: number;
  /** Packets the peers sent in the window, and the packets the SFU's tracks received over it (`/debug/tracks`). */
  sent: number;
  serverReceived: number;
  /** Published tracks and their subscribers at the end of the window (every peer publishing, each heard by the room's others). */
  tracks: number;
  subscriptions: number;
  /** Packets the SFU counted as forwarded over the window (`sfu_rtp_packets_forwarded_total`): tells loss before the SFU's send from loss after it. */
  serverForwarded: number;
  corrupt: number;
  /** UDP sockets the SFU process holds with everyone connected (/proc/<pid>/fd against /proc/net/udp). */
  udpSockets: number;
  /** …of which bound to ICE_UDP_PORT. */
  udpSocketsOnPort: number;
  /** Datagrams the kernel dropped at that socket (receive buffer full) during the window, and since it opened. */
  kernelDrops: number;
  kernelDropsTotal: number;
  /** Bytes queued at that socket, not yet read by the SFU, at the end of the window: how far its reads lag. */
  receiveQueueBytes: number;
  rssIdleBytes: number;
  rssFullBytes: number;
  /** SFU utime+stime from the first join to the last, per peer. */
  cpuMsPerJoin: number;
  /** SFU CPU over the window, % of one core; and the load clients'. */
  serverCpuPercent: number;
  clientCpuPercent: number;
  /** Everything else the machine ran over the window, % of one core. */
  otherCpuPercent: number;
  /** The SFU's event-loop delay p99 over the window (its `/metrics`). */
  eventLoopP99Ms: number;
  /** The machine's 1-minute load average at the end of the window. */
  loadAverage: number;
  error: string | null;
}
