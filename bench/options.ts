/**
 * Bench options from the command line (`--name=value`, `--quick`) and the
 * environment (`BENCH_*`); the command line wins. Read once, in run.ts.
 */
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { CONNECTIVITY_TARGETS, SCALING_TARGETS, targetLabel, type Scenario } from "./results.js";
import type { TargetSpec } from "./TargetProcess.js";

export interface BenchOptions {
  quick: boolean;
  scenarios: Scenario[];
  /** Length of each measurement window. */
  seconds: number;
  /** Targets to run, in order: `sfu`, `naive`, `sfu-1w`, `sfu-2w`, then the `--compare` target if any. */
  targets: TargetSpec[];
  /** The name (and label) of the `--compare` target, when one was given. */
  compareTarget: string | undefined;
  /** After the scenarios, run the scaling scenarios against the SFU with 1 and with 2 worker threads. */
  scaling: boolean;
  scalingScenarios: Scenario[];
  /** `sfu-1w` and `sfu-2w`, whatever `targets` says. */
  scalingTargets: TargetSpec[];
  /**
   * The scenario the SFU's connectivity variants run (relay-only through a local coturn, one UDP
   * port), beside the plain SFU's result for it; undefined: not run.
   */
  connectivity: Scenario | undefined;
  /** `sfu-relay` and `sfu-one-port`, whatever `targets` says. */
  connectivityTargets: TargetSpec[];
  /** The plain SFU (`sfu`), which the connectivity variants are compared with. */
  sfuTarget: TargetSpec;
  /** Peers of the one-port scale run (runOnePortScale.ts); 0: not run. */
  onePortScale: number;
  /** Room sizes to fill, peers joining 100 ms apart (runFill.ts); empty: none. */
  fills: number[];
  /** The audience scenario (speakers + listeners in one room), if it runs. */
  audience: Scenario | undefined;
  /** The `3 nodes` scenario (rooms over three nodes and Redis, beside the single-node SFU), if it runs. */
  cluster: Scenario | undefined;
  /** After each scenario's targets, measure Node's UDP floor for it (a bare dgram forwarder, see measureFloor). */
  floor: boolean;
  /** Run the largest-load search after the scenarios. */
  search: boolean;
  searchSeconds: number;
  searchMaxPeers: number;
  searchMaxProbes: number;
  clientProcesses: number;
  /** Load clients run under SCHED_BATCH so they do not preempt the server (see LoadClientPool). */
  batchClients: boolean;
  readyTimeoutMs: number;
  /** Directory PERFORMANCE.md and the chart are written to. */
  outDir: string;
  /** Re-render the report from this results file instead of running. */
  render: string | undefined;
  /** The SFU's entry point; the default (DEFAULT_SFU_ENTRY) is compiled before the run. */
  sfuEntry: string;
  /** Write a V8 CPU profile of every target process and load client into this directory. */
  profileDir: string | undefined;
}

/** The SFU as `npm start` runs it: the compiled output (run.ts compiles it first). */
export const DEFAULT_SFU_ENTRY = "dist/server/index.js";

const FULL_SCENARIOS = "1x5,4x5,1x10,1x15,2x15,1x25";
const FULL_FILLS = "50,100";
const FULL_AUDIENCE = "4+196";
/** Rooms to spread over three nodes: two per node when placement spreads them evenly. */
const FULL_CLUSTER = "6x5";
const FULL_CONNECTIVITY = "1x10";
const FULL_ONE_PORT_SCALE = "500";
const QUICK_SCENARIOS = "1x5,1x10";
/** Several rooms, so that 2 workers have rooms to share out. */
const SCALING_SCENARIOS = "4x5,2x15";

export const USAGE = `npm run bench [-- options]

  --quick                 1x5 and 1x10 for 5 s each, no search, scaling or floor, output to a temp dir
  --scenarios=1x5,4x5     rooms x peers per room          (BENCH_SCENARIOS, default ${FULL_SCENARIOS})
  --seconds=15            measurement window per scenario (BENCH_SECONDS)
  --targets=sfu,naive     which servers to run            (BENCH_TARGETS; also sfu-1w, sfu-2w:
                          the SFU with SFU_WORKERS=1 / SFU_WORKERS=2; sfu-relay, sfu-one-port:
                          the connectivity variants below)
  --scaling / --no-scaling  after the scenarios, the SFU with 1 and with 2 worker threads (sfu-1w,
                          sfu-2w) on multi-room scenarios (BENCH_SCALING=1|0, default on, off for --quick)
  --scaling-scenarios=${SCALING_SCENARIOS}  rooms x peers of the scaling runs (BENCH_SCALING_SCENARIOS)
  --fill=50,100 / --no-fill  fill a room of each size, peers joining 100 ms apart: time for a newcomer
                          to hear everyone, SDP bytes (BENCH_FILL; default on, off for --quick)
  --audience=4+196 / --no-audience  one room of 4 speakers and 196 listen-only peers
                          (BENCH_AUDIENCE; default on, off for --quick)
  --cluster=${FULL_CLUSTER} / --no-cluster  the \`3 nodes\` scenario: these rooms on the single SFU, then spread
                          over three SFU nodes and a redis-server (started on a free loopback port), some
                          sessions relayed by a node other than their room's (BENCH_CLUSTER; default on, off
                          for --quick; needs redis-server, REDIS_SERVER_PATH to use another)
  --connectivity=1x10 / --no-connectivity  the scenario again with the SFU relay-only through a coturn
                          on loopback (clients relay too) and with ICE_UDP_PORT, beside the plain SFU
                          (BENCH_CONNECTIVITY; default on, off for --quick)
  --one-port-scale=500 / --no-one-port-scale  that many peers on one ICE_UDP_PORT, rooms of 5, low
                          media: connected, join time, delivery, sockets, RSS (BENCH_ONE_PORT_SCALE;
                          default on, off for --quick)
  --floor / --no-floor    per scenario, Node's UDP floor: a bare dgram forwarder with the same traffic,
                          no WebRTC, as a reference (BENCH_FLOOR=1|0, default on, off for --quick)
  --search / --no-search  largest-load search             (BENCH_SEARCH=1|0)
  --search-seconds=8      window per search probe         (BENCH_SEARCH_SECONDS)
  --search-max-peers=60   search ceiling, peers in a room (BENCH_SEARCH_MAX_PEERS)
  --client-procs=2        at most this many load-client processes, one per 40,000 forwarded
                          packets/s of the scenario        (BENCH_CLIENT_PROCS)
  --batch-clients / --no-batch-clients  load clients under SCHED_BATCH, default on (BENCH_BATCH_CLIENTS=1|0)
  --out=docs              where PERFORMANCE.md and the chart go (BENCH_OUT)
  --render=docs/performance-results.json  rewrite PERFORMANCE.md and the chart from saved results, run nothing
  --compare="[VAR=value ...] CMD [ARG ...]"  also run any SFU that speaks the wire contract
                          (docs/PROTOCOL.md §1-§5, WebSocket transport) in every scenario, after the
                          other targets; it gets PORT, HOST=127.0.0.1, STUN_SERVERS= and LOG_LEVEL=warn
                          (BENCH_COMPARE). Example: --compare="ICE_LOOPBACK_ONLY=1 /tmp/pion-sfu/pion-sfu"
  --compare-label=Pion    its name in tables (BENCH_COMPARE_LABEL, default: the command's file name)
  --sfu-entry=dist/server/index.js  SFU entry: .ts runs under tsx, .js under node; the default is
                          the built output, compiled first as \`npm run build\` does (BENCH_SFU_ENTRY)
  --profile=DIR           write a CPU profile (node --cpu-prof) of each target run, and of its load
                          clients (DIR/<target>-clients), into DIR (BENCH_PROFILE)
`;

const KNOWN_FLAGS = new Set([
  "quick",
  "scenarios",
  "seconds",
  "targets",
  "scaling",
  "no-scaling",
  "scaling-scenarios",
  "floor",
  "no-floor",
  "fill",
  "no-fill",
  "audience",
  "no-audience",
  "cluster",
  "no-cluster",
  "connectivity",
  "no-connectivity",
  "one-port-scale",
  "no-one-port-scale",
  "search",
  "no-search",
  "search-seconds",
  "search-max-peers",
  "client-procs",
  "batch-clients",
  "no-batch-clients",
  "out",
  "render",
  "sfu-entry",
  "compare",
  "compare-label",
  "profile",
  "help",
]);

function flags(argv: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const arg of argv) {
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match || !KNOWN_FLAGS.has(match[1]!)) throw new Error(`unknown argument ${arg}\n\n${USAGE}`);
    map.set(match[1]!, match[2] ?? "true");
  }
  return map;
}

function parseScenarios(text: string): Scenario[] {
  // Empty: no scenario tables, say for a run of the room fills alone.
  if (text.trim() === "") return [];
  return text.split(",").map((item) => {
    const match = /^\s*(\d+)x(\d+)\s*$/.exec(item);
    if (!match) throw new Error(`bad scenario "${item}": use ROOMSxPEERS, e.g. 1x5`);
    const scenario = { rooms: Number(match[1]), peersPerRoom: Number(match[2]) };
    if (scenario.rooms < 1 || scenario.peersPerRoom < 2)
      throw new Error(`scenario "${item}" needs ≥1 room of ≥2 peers`);
    return scenario;
  });
}

function parseCluster(text: string): Scenario {
  const [scenario, ...more] = parseScenarios(text);
  if (!scenario || more.length > 0) throw new Error(`bad --cluster "${text}": use one ROOMSxPEERS, e.g. 6x5`);
  return scenario;
}

function parseOneScenario(text: string): Scenario {
  const [scenario, ...more] = parseScenarios(text);
  if (scenario === undefined || more.length > 0)
    throw new Error(`--connectivity takes one scenario, got "${text}"`);
  return scenario;
}

function parseFills(text: string): number[] {
  return text.split(",").map((item) => {
    const peers = Number(item.trim());
    if (!Number.isInteger(peers) || peers < 2)
      throw new Error(`bad room fill "${item}": use a peer count ≥ 2`);
    return peers;
  });
}

function parseAudience(text: string): Scenario {
  const match = /^\s*(\d+)\+(\d+)\s*$/.exec(text);
  if (!match) throw new Error(`bad audience "${text}": use SPEAKERS+LISTENERS, e.g. 4+196`);
  const speakers = Number(match[1]);
  const listeners = Number(match[2]);
  if (speakers < 1 || listeners < 1) throw new Error(`audience "${text}" needs ≥1 speaker and ≥1 listener`);
  return { rooms: 1, peersPerRoom: speakers + listeners, speakers };
}

/** A flag that `--name` / `--no-name` turn on or off and `--name=VALUE` sets; undefined when not given. */
function valueFlag(cli: Map<string, string>, name: string, env: string | undefined): string | undefined {
  if (cli.has(`no-${name}`)) return "";
  const value = cli.get(name);
  if (value !== undefined && value !== "true") return value;
  return env;
}

function positive(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0)
    throw new Error(`${name} must be a positive number, got "${text}"`);
  return value;
}

/**
 * The SFU as the project ships it (forwarding in the main thread, and in 1 or
 * 2 worker threads), and the bench's naive relay, all in the same kind of
 * process. With `profileDir`, each writes a `.cpuprofile` there when it exits
 * (the bench stops targets with SIGTERM, so they exit cleanly).
 */
export function targetSpecs(sfuEntry: string, profileDir?: string): Record<string, TargetSpec> {
  const nodeArgs = (entry: string, name: string): string[] => [
    // One directory per target; node names each file by pid and thread (tsx's loader thread gets one too).
    ...(profileDir ? ["--cpu-prof", `--cpu-prof-dir=${resolve(profileDir, name)}`] : []),
    ...(entry.endsWith(".ts") ? ["--import", "tsx", entry] : [entry]),
  ];
  const sfuEnv = {
    // The audience scenario's room is larger than the default limit of 100.
    MAX_PEERS_PER_ROOM: "1000",
    // Loopback only, like the load clients and the naive relay.
    HOST: "127.0.0.1",
    STUN_SERVERS: "",
    ICE_ADVERTISE_IP: "127.0.0.1",
    LOG_LEVEL: "warn",
    ALLOW_PRIVATE_CANDIDATES: "true",
  };
  const sfu = (name: string, workers?: number): TargetSpec => ({
    name,
    label: targetLabel(name),
    command: process.execPath,
    // As the Procfile and `npm start` run it: a 2 MB semi-space keeps the young generation from
    // growing to 32 MB under per-packet garbage (the same flag reaches the worker threads), and a
    // fixed 1.2 old-generation growing factor collects promoted packet garbage before V8's dynamic
    // factor (up to 4) lets it pile up to several times the live heap.
    // --expose-gc only lets the bench ask for a full GC before reading RSS (server/debugGc.ts).
    args: [
      "--max-semi-space-size=2",
      "--heap-growing-percent=20",
      "--expose-gc",
      ...nodeArgs(sfuEntry, name),
    ],
    env: workers === undefined ? { ...sfuEnv } : { ...sfuEnv, SFU_WORKERS: String(workers) },
    forwardingThreads: workers ?? 0,
    gcSignal: true,
  });
  return {
    sfu: sfu("sfu"),
    naive: {
      name: "naive",
      label: targetLabel("naive"),
      command: process.execPath,
      args: nodeArgs("bench/naive-relay.ts", "naive"),
      env: {},
      forwardingThreads: 0,
    },
    "sfu-1w": sfu("sfu-1w", 1),
    "sfu-2w": sfu("sfu-2w", 2),
    // Clients are told to relay as well: the whole media path runs through coturn, as on a PaaS.
    "sfu-relay": {
      ...sfu("sfu-relay"),
      env: { ...sfuEnv, ICE_RELAY_ONLY: "true", ICE_RELAY_ONLY_CLIENTS: "true" },
      connectivity: "relay",
    },
    "sfu-one-port": { ...sfu("sfu-one-port"), connectivity: "one-port" },
  };
}

/** Names the bench's own targets take; a compare target may not take one of them. */
const OWN_TARGETS = ["sfu", "naive", "sfu-1w", "sfu-2w", ...CONNECTIVITY_TARGETS];

/**
 * Any server that speaks the wire contract, from `--compare`: leading `VAR=value`
 * words are its environment, the rest its command line (split on whitespace, no
 * quoting). It runs like the others: its own process group, a free PORT, loopback.
 */
export function compareSpec(commandLine: string, label: string | undefined): TargetSpec {
  const words = commandLine
    .trim()
    .split(/\s+/)
    .filter((word) => word.length > 0);
  const env: Record<string, string> = { HOST: "127.0.0.1", STUN_SERVERS: "", LOG_LEVEL: "warn" };
  while (words.length > 0 && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0]!)) {
    const word = words.shift()!;
    const equals = word.indexOf("=");
    env[word.slice(0, equals)] = word.slice(equals + 1);
  }
  const [command, ...args] = words;
  if (command === undefined) throw new Error(`--compare needs a command, got "${commandLine}"`);
  const name = label ?? basename(command);
  if (OWN_TARGETS.includes(name)) throw new Error(`--compare-label "${name}" is taken by a bench target`);
  return { name, label: name, command, args, env, forwardingThreads: 0 };
}

export function readOptions(argv: readonly string[], env: NodeJS.ProcessEnv): BenchOptions {
  const cli = flags(argv);
  const get = (flag: string, envName: string): string | undefined => cli.get(flag) ?? env[envName];
  const quick = cli.has("quick") || env.BENCH_QUICK === "1";
  const searchFlag = cli.has("search") ? "1" : cli.has("no-search") ? "0" : env.BENCH_SEARCH;
  const batchFlag = cli.has("batch-clients")
    ? "1"
    : cli.has("no-batch-clients")
      ? "0"
      : env.BENCH_BATCH_CLIENTS;
  const scalingFlag = cli.has("scaling") ? "1" : cli.has("no-scaling") ? "0" : env.BENCH_SCALING;
  const fill = valueFlag(cli, "fill", env.BENCH_FILL) ?? (quick && !cli.has("fill") ? "" : FULL_FILLS);
  const audience =
    valueFlag(cli, "audience", env.BENCH_AUDIENCE) ?? (quick && !cli.has("audience") ? "" : FULL_AUDIENCE);
  const cluster =
    valueFlag(cli, "cluster", env.BENCH_CLUSTER) ?? (quick && !cli.has("cluster") ? "" : FULL_CLUSTER);
  const connectivity =
    valueFlag(cli, "connectivity", env.BENCH_CONNECTIVITY) ??
    (quick && !cli.has("connectivity") ? "" : FULL_CONNECTIVITY);
  const onePortScale =
    valueFlag(cli, "one-port-scale", env.BENCH_ONE_PORT_SCALE) ??
    (quick && !cli.has("one-port-scale") ? "" : FULL_ONE_PORT_SCALE);
  const floorFlag = cli.has("floor") ? "1" : cli.has("no-floor") ? "0" : env.BENCH_FLOOR;
  const profileDir = get("profile", "BENCH_PROFILE");
  const sfuEntry = get("sfu-entry", "BENCH_SFU_ENTRY") ?? DEFAULT_SFU_ENTRY;
  const specs = targetSpecs(sfuEntry, profileDir);
  const targets = (get("targets", "BENCH_TARGETS") ?? "sfu,naive").split(",").map((name) => {
    const spec = specs[name.trim()];
    if (!spec) throw new Error(`unknown target "${name}": use ${Object.keys(specs).join(", ")}`);
    return spec;
  });
  const compareCommand = get("compare", "BENCH_COMPARE");
  const compare = compareCommand
    ? compareSpec(compareCommand, get("compare-label", "BENCH_COMPARE_LABEL"))
    : undefined;
  if (compare) targets.push(compare);
  return {
    quick,
    scenarios: parseScenarios(
      get("scenarios", "BENCH_SCENARIOS") ?? (quick ? QUICK_SCENARIOS : FULL_SCENARIOS),
    ),
    seconds: positive("seconds", get("seconds", "BENCH_SECONDS") ?? (quick ? "5" : "15")),
    targets,
    compareTarget: compare?.name,
    scaling: (scalingFlag ?? (quick ? "0" : "1")) === "1",
    scalingScenarios: parseScenarios(
      get("scaling-scenarios", "BENCH_SCALING_SCENARIOS") ?? SCALING_SCENARIOS,
    ),
    scalingTargets: SCALING_TARGETS.map((name) => specs[name]!),
    connectivity: connectivity === "" || connectivity === "0" ? undefined : parseOneScenario(connectivity),
    connectivityTargets: CONNECTIVITY_TARGETS.map((name) => specs[name]!),
    sfuTarget: specs.sfu!,
    onePortScale:
      onePortScale === "" || onePortScale === "0" ? 0 : Math.round(positive("one-port-scale", onePortScale)),
    fills: fill === "" || fill === "0" ? [] : parseFills(fill),
    audience: audience === "" || audience === "0" ? undefined : parseAudience(audience),
    cluster: cluster === "" || cluster === "0" ? undefined : parseCluster(cluster),
    floor: (floorFlag ?? (quick ? "0" : "1")) === "1",
    search: (searchFlag ?? (quick ? "0" : "1")) === "1",
    searchSeconds: positive("search-seconds", get("search-seconds", "BENCH_SEARCH_SECONDS") ?? "8"),
    searchMaxPeers: positive("search-max-peers", get("search-max-peers", "BENCH_SEARCH_MAX_PEERS") ?? "60"),
    searchMaxProbes: 5,
    clientProcesses: Math.round(positive("client-procs", get("client-procs", "BENCH_CLIENT_PROCS") ?? "2")),
    batchClients: (batchFlag ?? "1") === "1",
    readyTimeoutMs: 10_000,
    outDir: get("out", "BENCH_OUT") ?? (quick ? join(tmpdir(), "sfu-bench") : "docs"),
    render: cli.get("render"),
    sfuEntry,
    profileDir,
  };
}
