/**
 * What the Node UDP floor's two processes share: the scenario they reproduce,
 * read from the environment FloorProcess sets, and socket binding.
 */
import { createSocket, type Socket } from "node:dgram";
import type { FloorChildMessage } from "./ipc.js";
import { LOOPBACK } from "./loopback.js";
import type { Scenario } from "./results.js";

export const FLOOR_ROOMS_ENV = "BENCH_FLOOR_ROOMS";
export const FLOOR_PEERS_ENV = "BENCH_FLOOR_PEERS_PER_ROOM";

/** The scenario from the environment; exits when a child is started by hand without it. */
export function floorScenario(entry: string): Scenario {
  const rooms = Number(process.env[FLOOR_ROOMS_ENV]);
  const peersPerRoom = Number(process.env[FLOOR_PEERS_ENV]);
  if (!process.send || !(rooms >= 1) || !(peersPerRoom >= 2)) {
    console.error(
      `${entry} is started by bench/run.ts (needs ${FLOOR_ROOMS_ENV}, ${FLOOR_PEERS_ENV} and IPC)`,
    );
    process.exit(2);
  }
  return { rooms, peersPerRoom };
}

/** One UDP socket per peer on 127.0.0.1, bound to free ports. */
export async function bindSockets(count: number): Promise<Socket[]> {
  return Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<Socket>((resolve, reject) => {
          const socket = createSocket("udp4");
          socket.once("error", reject);
          socket.bind(0, LOOPBACK, () => resolve(socket));
        }),
    ),
  );
}

export function sendToParent(message: FloorChildMessage): void {
  process.send?.(message);
}
