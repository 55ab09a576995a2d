import { passes, type ScenarioResult } from "./results.js";
import type { SearchOutcome } from "./report.js";

export interface SearchOptions {
  target: string;
  /** Results of the fixed scenarios for this target; 1×N ones seed the search. */
  known: readonly ScenarioResult[];
  maxPeers: number;
  maxProbes: number;
  /** Runs one 1×N probe. */
  probe: (peersPerRoom: number) => Promise<ScenarioResult>;
}

const STEP = 5;

/**
 * Finds the largest single room that still passes: starts above the largest
 * passing 1×N already measured, grows by STEP until a probe fails, then bisects
 * the gap. Bounded by `maxProbes` and `maxPeers`.
 */
export async function searchLargestLoad(options: SearchOptions): Promise<SearchOutcome> {
  const singleRoom = options.known.filter((r) => r.scenario.rooms === 1);
  const passing = singleRoom.filter(passes).sort((a, b) => b.scenario.peersPerRoom - a.scenario.peersPerRoom);
  const failing = singleRoom.filter((r) => !passes(r)).map((r) => r.scenario.peersPerRoom);
  let best = passing[0];
  let lo = best?.scenario.peersPerRoom ?? 1;
  // The smallest known failure above the best pass bounds the search from above.
  let hi = Math.min(options.maxPeers + 1, ...failing.filter((n) => n > lo));
  const probes: ScenarioResult[] = [];
  // Nothing passed even at the sizes already run: there is no load to grow from.
  if (!best && singleRoom.length > 0) return { target: options.target, best, probes };
  while (probes.length < options.maxProbes && hi - lo > 1) {
    const next = hi > options.maxPeers ? Math.min(lo + STEP, options.maxPeers) : Math.floor((lo + hi) / 2);
    if (next <= lo) break;
    const result = await options.probe(next);
    probes.push(result);
    if (passes(result)) {
      lo = next;
      best = result;
    } else {
      hi = next;
    }
  }
  return { target: options.target, best, probes };
}
