/**
 * `npm run bench`: the forwarding benchmark. Runs every scenario against each
 * target (SFU and naive relay back to back), the audience and the room fills,
 * the SFU's connectivity variants (relay-only through coturn, one UDP port) and
 * the one-port scale run, then the largest-load search, then the worker scaling
 * (the SFU with 1 and with 2 worker threads), and writes PERFORMANCE.md and the
 * chart. See docs/PERFORMANCE.md.
 */
import { spawnSync } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { format, resolveConfig } from "prettier";
import { renderChart } from "./chart.js";
import { Cleanup } from "./Cleanup.js";
import { DEFAULT_SFU_ENTRY, readOptions, USAGE, type BenchOptions } from "./options.js";
import { measureFloor } from "./measureFloor.js";
import {
  consoleClusterTable,
  consoleFloorLine,
  consoleFillTable,
  consoleFloorTable,
  consoleOnePortScale,
  consoleTable,
  describeMachine,
  renderMarkdown,
  type FillRun,
  type ConnectivitySection,
  type ReportInput,
  type ScalingSection,
  type SearchOutcome,
} from "./report.js";
import {
  scenarioName,
  type ClusterResult,
  type ClusterRun,
  type OnePortScaleResult,
  type Scenario,
  type ScenarioResult,
  type ScenarioRun,
} from "./results.js";
import { runCluster } from "./runCluster.js";
import { failedFill, runFill } from "./runFill.js";
import { failedOnePortScale, runOnePortScale } from "./runOnePortScale.js";
import { runScenario } from "./runScenario.js";
import { searchLargestLoad } from "./search.js";
import type { TargetSpec } from "./TargetProcess.js";

const CHART_FILE = "performance-chart.svg";
const RESULTS_FILE = "performance-results.json";

function failed(target: TargetSpec, scenario: Scenario, seconds: number, error: unknown): ScenarioResult {
  const message = error instanceof Error ? error.message : String(error);
  return {
    target: target.name,
    scenario,
    peers: scenario.rooms * scenario.peersPerRoom,
    seconds,
    expected: 0,
    delivered: 0,
    deliveryRatio: 0,
    forwardedPerSecond: 0,
    cpuMicrosPerPacket: Number.NaN,
    systemMicrosPerPacket: Number.NaN,
    serverCpuPercent: Number.NaN,
    latencyMs: { p50: Number.NaN, p95: Number.NaN, p99: Number.NaN },
    joinMs: { p50: Number.NaN, p95: Number.NaN, samples: 0 },
    joinIncomplete: 0,
    iceFailed: 0,
    corrupt: 0,
    outOfOrder: 0,
    unknownStreamTracks: 0,
    rssIdleBytes: Number.NaN,
    rssLoadedBytes: Number.NaN,
    rssPerPeerBytes: Number.NaN,
    eventLoopP99Ms: Number.NaN,
    clientCpuPercent: Number.NaN,
    clientCpuMicrosPerPacket: Number.NaN,
    clientEventLoopP99Ms: Number.NaN,
    otherCpuPercent: Number.NaN,
    serverCountedForwards: null,
    error: message,
  };
}

function failedCluster(scenario: Scenario, seconds: number, error: unknown): ClusterResult {
  const none = { p50: Number.NaN, p95: Number.NaN, samples: 0 };
  return {
    scenario,
    seconds,
    nodes: [],
    expected: 0,
    delivered: 0,
    deliveryRatio: 0,
    forwardedPerSecond: 0,
    cpuMicrosPerPacket: Number.NaN,
    latencyMs: { p50: Number.NaN, p95: Number.NaN, p99: Number.NaN },
    directJoinMs: none,
    relayedJoinMs: none,
    joinIncomplete: 0,
    iceFailed: 0,
    corrupt: 0,
    clientCpuPercent: Number.NaN,
    otherCpuPercent: Number.NaN,
    error: error instanceof Error ? error.message : String(error),
  };
}

async function runOne(
  options: BenchOptions,
  cleanup: Cleanup,
  target: TargetSpec,
  scenario: Scenario,
  seconds: number,
  silentPhase = true,
): Promise<ScenarioResult> {
  console.log(`  ${target.label} ${scenarioName(scenario)} ...`);
  try {
    return await runScenario({
      target,
      scenario,
      seconds,
      clientProcesses: options.clientProcesses,
      batchClients: options.batchClients,
      readyTimeoutMs: options.readyTimeoutMs,
      profileDir: options.profileDir,
      silentPhase,
      cleanup,
      log: (line) => console.log(line),
    });
  } catch (error) {
    // One failed run (say, the target does not start) must not lose the others.
    console.log(`    failed: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
    return failed(target, scenario, seconds, error);
  }
}

async function main(): Promise<void> {
  if (process.argv.includes("--help")) {
    console.log(USAGE);
    return;
  }
  let options: BenchOptions;
  try {
    options = readOptions(process.argv.slice(2), process.env);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 2;
    return;
  }
  if (options.render) {
    await render(options.render, options.outDir);
    return;
  }
  if (options.sfuEntry === DEFAULT_SFU_ENTRY) compileSfu();
  const cleanup = new Cleanup();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      console.error(`\n${signal}: stopping the servers and load clients this run started`);
      cleanup.killAll();
      process.exit(130);
    });
  }
  const startedAt = new Date();
  const scenarios: ScenarioRun[] = [];
  const searches: SearchOutcome[] = [];
  let scaling: ScalingSection | undefined;
  let audience: ScenarioRun | undefined;
  const fills: FillRun[] = [];
  let cluster: ClusterRun | undefined;
  let connectivity: ConnectivitySection | undefined;
  let onePortScale: OnePortScaleResult | undefined;
  try {
    for (const scenario of options.scenarios) {
      const results: ScenarioResult[] = [];
      for (const target of options.targets) {
        results.push(await runOne(options, cleanup, target, scenario, options.seconds));
      }
      console.log(consoleTable(scenario, results, "main", options.compareTarget));
      if (options.floor) {
        console.log(`  Node UDP floor ${scenarioName(scenario)} ...`);
        const floor = await measureFloor({
          scenario,
          seconds: options.seconds,
          batchPeers: options.batchClients,
          cleanup,
        });
        console.log(consoleFloorLine(floor));
        scenarios.push({ scenario, results, floor });
      } else {
        scenarios.push({ scenario, results });
      }
    }
    if (scenarios.some((run) => run.floor)) console.log(consoleFloorTable(scenarios));
    if (options.audience) {
      const scenario = options.audience;
      console.log(`\n== audience, ${scenarioName(scenario)}`);
      const results: ScenarioResult[] = [];
      for (const target of options.targets) {
        results.push(await runOne(options, cleanup, target, scenario, options.seconds));
      }
      console.log(consoleTable(scenario, results, "main", options.compareTarget));
      audience = { scenario, results };
    }
    const sfuSpec = options.targets.find((t) => t.name === "sfu");
    if (options.cluster && sfuSpec) {
      const scenario = options.cluster;
      console.log(`\n== 3 nodes, ${scenarioName(scenario)}`);
      const single = await runOne(options, cleanup, sfuSpec, scenario, options.seconds);
      console.log(`  3 nodes ${scenarioName(scenario)} ...`);
      let result: ClusterResult;
      try {
        result = await runCluster({
          target: sfuSpec,
          scenario,
          seconds: options.seconds,
          clientProcesses: options.clientProcesses,
          batchClients: options.batchClients,
          readyTimeoutMs: options.readyTimeoutMs,
          cleanup,
          log: (line) => console.log(line),
        });
      } catch (error) {
        console.log(`    failed: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
        result = failedCluster(scenario, options.seconds, error);
      }
      cluster = { scenario, single, cluster: result };
      console.log(consoleClusterTable(cluster));
    } else if (options.cluster) {
      console.log("\n== 3 nodes: skipped, it runs beside the sfu target and --targets leaves it out");
    }
    for (const peers of options.fills) {
      console.log(`\n== room fill, ${peers} peers`);
      const results = [];
      for (const target of options.targets) {
        console.log(`  ${target.label} fill ${peers} ...`);
        try {
          results.push(
            await runFill({ target, peers, batchClients: options.batchClients, cleanup, log: console.log }),
          );
        } catch (error) {
          console.log(`    failed: ${error instanceof Error ? error.message.split("\n")[0] : String(error)}`);
          results.push(failedFill(target, peers, error));
        }
      }
      fills.push({ peers, results });
      console.log(consoleFillTable(results, options.compareTarget));
    }
    if (options.connectivity) {
      const scenario = options.connectivity;
      console.log(`\n== connectivity, ${scenarioName(scenario)}`);
      const sameScenario = (s: Scenario): boolean =>
        s.rooms === scenario.rooms && s.peersPerRoom === scenario.peersPerRoom && s.speakers === undefined;
      // The plain SFU from the scenarios above when it ran this one there, else run here.
      const plain =
        scenarios.find((run) => sameScenario(run.scenario))?.results.find((r) => r.target === "sfu") ??
        (await runOne(options, cleanup, options.sfuTarget, scenario, options.seconds));
      const results = [plain];
      for (const target of options.connectivityTargets) {
        results.push(await runOne(options, cleanup, target, scenario, options.seconds));
      }
      console.log(consoleTable(scenario, results, "connectivity"));
      connectivity = {
        commands: options.connectivityTargets.map((t) => ({ target: t.name, command: commandLine(t) })),
        run: { scenario, results },
      };
    }
    if (options.onePortScale > 0) {
      console.log(`\n== one UDP port, ${options.onePortScale} peers`);
      try {
        onePortScale = await runOnePortScale({
          target: options.connectivityTargets.find((t) => t.connectivity === "one-port")!,
          peers: options.onePortScale,
          seconds: options.seconds,
          batchClients: options.batchClients,
          cleanup,
          log: console.log,
        });
      } catch (error) {
        onePortScale = failedOnePortScale(options.onePortScale, options.seconds, error);
      }
      console.log(consoleOnePortScale(onePortScale));
    }
    if (options.search) {
      for (const target of options.targets) {
        console.log(`\n== largest-load search, ${target.label}`);
        const outcome = await searchLargestLoad({
          target: target.name,
          known: scenarios.flatMap((s) => s.results.filter((r) => r.target === target.name)),
          maxPeers: options.searchMaxPeers,
          maxProbes: options.searchMaxProbes,
          probe: async (peersPerRoom) => {
            const result = await runOne(
              options,
              cleanup,
              target,
              { rooms: 1, peersPerRoom },
              options.searchSeconds,
              false, // no silent phase: a probe only asks whether the load passes
            );
            console.log(
              `    delivery ${(result.deliveryRatio * 100).toFixed(2)} %, p99 ${result.latencyMs.p99.toFixed(1)} ms, ` +
                `${result.cpuMicrosPerPacket.toFixed(1)} µs/packet`,
            );
            return result;
          },
        });
        console.log(
          `  largest passing: ${outcome.best ? `1x${outcome.best.scenario.peersPerRoom}` : "none"}`,
        );
        searches.push(outcome);
      }
    }
    if (options.scaling) {
      console.log(`\n== worker scaling, ${options.scalingTargets.map((t) => t.label).join(" vs ")}`);
      scaling = {
        commands: options.scalingTargets.map((t) => ({ target: t.name, command: commandLine(t) })),
        scenarios: [],
      };
      for (const scenario of options.scalingScenarios) {
        const results: ScenarioResult[] = [];
        for (const target of options.scalingTargets) {
          results.push(await runOne(options, cleanup, target, scenario, options.seconds));
        }
        scaling.scenarios.push({ scenario, results });
        console.log(consoleTable(scenario, results, "scaling"));
      }
    }
  } finally {
    cleanup.killAll();
  }

  const sfu = options.targets.find((t) => t.name === "sfu");
  const compare = options.targets.find((t) => t.name === options.compareTarget);
  await writeOutputs(options.outDir, {
    command: ["npm run bench", ...(process.argv.length > 2 ? ["--", ...process.argv.slice(2)] : [])].join(
      " ",
    ),
    quick: options.quick,
    seconds: options.seconds,
    searchSeconds: options.searchSeconds,
    clientProcesses: options.clientProcesses,
    batchClients: options.batchClients,
    startedAt: startedAt.toISOString(),
    machine: describeMachine(),
    durationSeconds: (Date.now() - startedAt.getTime()) / 1000,
    scenarios,
    searches,
    scaling,
    ...(audience ? { audience } : {}),
    ...(fills.length > 0 ? { fills } : {}),
    ...(cluster ? { cluster } : {}),
    ...(connectivity ? { connectivity } : {}),
    ...(onePortScale ? { onePortScale } : {}),
    chartFile: CHART_FILE,
    sfuCommand: sfu ? commandLine(sfu) : "not run",
    ...(compare ? { compare: { target: compare.name, command: commandLine(compare) } } : {}),
  });
}

/**
 * Compiles the server as `npm run build` does (tsc, not the browser bundles), so that the SFU runs
 * as `npm start` runs it: under tsx it would also carry tsx's loader thread, about 30 MB of RSS.
 */
function compileSfu(): void {
  console.log("compiling the SFU (tsc -p tsconfig.build.json) ...");
  const tsc = spawnSync(process.execPath, ["node_modules/typescript/bin/tsc", "-p", "tsconfig.build.json"], {
    stdio: "inherit",
  });
  if (tsc.status !== 0) throw new Error("tsc failed: fix the build or pass --sfu-entry=server/index.ts");
}

/** What runScenario adds to a connectivity variant's environment per run (connectivitySpec). */
const PER_RUN_ENV: Record<NonNullable<TargetSpec["connectivity"]>, string[]> = {
  relay: ["TURN_URLS=turn:127.0.0.1:<coturn's port>?transport=udp", "TURN_SECRET=<coturn's secret>"],
  "one-port": ["ICE_UDP_PORT=<free UDP port>"],
};

/** How a target is started, for the report. */
function commandLine(target: TargetSpec): string {
  return [
    ...Object.entries(target.env).map(([k, v]) => `${k}=${v}`),
    ...(target.connectivity ? PER_RUN_ENV[target.connectivity] : []),
    "PORT=<free port>",
    target.command === process.execPath ? "node" : target.command,
    ...target.args,
  ].join(" ");
}

/** Writes PERFORMANCE.md, the chart and the raw results (which `--render` reads back). */
async function writeOutputs(outDir: string, input: ReportInput): Promise<void> {
  await mkdir(outDir, { recursive: true });
  // NaN marks "not measured"; JSON has no NaN, so it is stored as a string.
  const json = JSON.stringify(input, (_, value: unknown) => (Number.isNaN(value) ? "NaN" : value), 2);
  // Formatted as the repository's prettier check wants it, like PERFORMANCE.md below.
  const resultsFile = join(outDir, RESULTS_FILE);
  await writeFile(resultsFile, await format(json, { ...(await resolveConfig(resultsFile)), parser: "json" }));
  const allResults = [
    ...input.scenarios.flatMap((s) => s.results),
    ...input.searches.flatMap((s) => s.probes),
  ];
  await writeFile(join(outDir, CHART_FILE), renderChart(allResults));
  const file = join(outDir, "PERFORMANCE.md");
  await writeFile(
    file,
    await format(renderMarkdown(input), { ...(await resolveConfig(file)), parser: "markdown" }),
  );
  console.log(`\nwrote ${relative(process.cwd(), file) || file}, ${CHART_FILE} and ${RESULTS_FILE}`);
}

/** Re-renders the report from a results file without running anything. */
async function render(resultsFile: string, outDir: string): Promise<void> {
  const text = await readFile(resultsFile, "utf8");
  const input = JSON.parse(text, (_, value: unknown) =>
    value === "NaN" ? Number.NaN : value,
  ) as ReportInput;
  await writeOutputs(outDir, input);
}

await main();
