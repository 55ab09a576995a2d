import { setTimeout as sleep } from "node:timers/promises";
import type { Cleanup } from "./Cleanup.js";
import { FloorProcess } from "./FloorProcess.js";
import { nominalForwardedPerSecond, type FloorResult, type Scenario } from "./results.js";

/** From the first send to the window: JIT compilation and socket buffers settle. */
export const FLOOR_WARMUP_MS = 3000;

export interface MeasureFloorOptions {
  scenario: Scenario;
  seconds: number;
  /** Run the peers process under SCHED_BATCH, as the load clients are. */
  batchPeers: boolean;
  cleanup: Cleanup;
}

/**
 * Node's UDP floor for one scenario: the bare forwarder (floor-forwarder.ts)
 * and the peers (floor-peers.ts) as two processes, a warm-up, then the
 * forwarder's utime+stime over one window ÷ the datagrams it sent in it.
 */
export async function measureFloor(options: MeasureFloorOptions): Promise<FloorResult> {
  const { scenario, seconds, cleanup } = options;
  const started: FloorProcess[] = [];
  const unregister: Array<() => void> = [];
  const own = (child: FloorProcess): FloorProcess => {
    started.push(child);
    unregister.push(cleanup.add(() => child.killNow()));
    return child;
  };
  try {
    const forwarder = own(await FloorProcess.start("forwarder", scenario, false));
    const peers = own(await FloorProcess.start("peers", scenario, options.batchPeers));
    forwarder.connect(peers.ports);
    peers.connect(forwarder.ports);
    await sleep(FLOOR_WARMUP_MS);

    // Both counts asked at once and the CPU read as they arrive: one IPC round trip apart at most.
    const [forwardedBefore, peersBefore] = await Promise.all([forwarder.count(), peers.count()]);
    const cpuBefore = forwarder.sample();
    await sleep(seconds * 1000);
    const [forwardedAfter, peersAfter] = await Promise.all([forwarder.count(), peers.count()]);
    const cpuAfter = forwarder.sample();

    const forwarded = forwardedAfter.sent - forwardedBefore.sent;
    const delivered = peersAfter.received - peersBefore.received;
    const cpu = cpuAfter.cpuMicros - cpuBefore.cpuMicros;
    if (forwarded < nominalForwardedPerSecond(scenario) * seconds * 0.5) {
      throw new Error(`the floor forwarder sent only ${forwarded} datagrams in ${seconds} s`);
    }
    return {
      scenario,
      seconds,
      forwardedPerSecond: forwarded / seconds,
      deliveryRatio: delivered / forwarded,
      cpuMicrosPerPacket: cpu / forwarded,
      systemMicrosPerPacket: (cpuAfter.systemMicros - cpuBefore.systemMicros) / forwarded,
      cpuPercent: (cpu / (seconds * 1e6)) * 100,
      error: null,
    };
  } catch (error) {
    return {
      scenario,
      seconds,
      forwardedPerSecond: Number.NaN,
      deliveryRatio: Number.NaN,
      cpuMicrosPerPacket: Number.NaN,
      systemMicrosPerPacket: Number.NaN,
      cpuPercent: Number.NaN,
      error: error instanceof Error ? error.message : String(error),
    };
  } finally {
    await Promise.all(started.map((child) => child.stop()));
    for (const forget of unregister) forget();
  }
}
