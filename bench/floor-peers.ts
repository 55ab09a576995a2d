/**
 * The Node UDP floor's peers, started as their own process by the bench
 * (FloorProcess): one socket per peer, each sending an 80–120-byte datagram
 * every 20 ms to its socket on the floor forwarder (phases spread over the
 * 20 ms across all peers) and counting the datagrams forwarded to it.
 */
import type { FloorParentMessage } from "./ipc.js";
import { LOOPBACK } from "./loopback.js";
import { fillPattern, payloadLength, PAYLOAD_MAX_BYTES } from "./payload.js";
import { bindSockets, floorScenario, sendToParent } from "./floorTopology.js";

const FRAME_MS = 20;

const { rooms, peersPerRoom } = floorScenario("floor-peers.ts");
const sockets = await bindSockets(rooms * peersPerRoom);
const payload = Buffer.alloc(PAYLOAD_MAX_BYTES);
fillPattern(payload);
let sent = 0;
let received = 0;
for (const socket of sockets) socket.on("message", () => received++);

function start(forwarderPorts: readonly number[]): void {
  const origin = performance.now();
  sockets.forEach((socket, i) => {
    const port = forwarderPorts[i]!;
    const phase = (i * FRAME_MS) / sockets.length;
    let counter = 0;
    const tick = (): void => {
      // The forwarder's cost is measured, not ours: a fresh copy keeps reuse from racing the send.
      socket.send(Buffer.from(payload.subarray(0, payloadLength(counter))), port, LOOPBACK);
      sent++;
      counter++;
      // Timed from the origin, so the rate stays 50/s however late a timer fires.
      setTimeout(tick, Math.max(0, origin + phase + counter * FRAME_MS - performance.now()));
    };
    setTimeout(tick, phase);
  });
}

process.on("message", (message: FloorParentMessage) => {
  if (message.type === "connect") start(message.ports);
  else sendToParent({ type: "count", sent, received });
});
process.on("disconnect", () => process.exit(0));
sendToParent({ type: "bound", ports: sockets.map((socket) => socket.address().port) });
