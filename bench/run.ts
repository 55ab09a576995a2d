/**
 * `npm run bench`: the forwarding benchmark. See docs/PERFORMANCE.md.
 */
import { Cleanup } from "./Cleanup.js";
import { readOptions, USAGE } from "./options.js";
import { runScenario } from "./runScenario.js";

if (process.argv.includes("--help")) {
  console.log(USAGE);
  process.exit(0);
}
const options = readOptions(process.argv.slice(2), process.env);
const cleanup = new Cleanup();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    console.error(`\n${signal}: stopping the servers and load clients this run started`);
    cleanup.killAll();
    process.exit(130);
  });
}
try {
  for (const scenario of options.scenarios) {
    for (const target of options.targets) {
      const result = await runScenario({
        target,
        scenario,
        seconds: options.seconds,
        clientProcesses: options.clientProcesses,
        readyTimeoutMs: options.readyTimeoutMs,
        cleanup,
        log: (line) => console.log(line),
      });
      console.log(result);
    }
  }
} finally {
  cleanup.killAll();
}
