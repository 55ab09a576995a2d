/**
 * The Node UDP floor's forwarder, started as its own process by the bench
 * (FloorProcess): the least a Node process can do to forward the scenario's
 * audio. One dgram socket per peer; each datagram peer i sends is copied into a
 * fresh Buffer for every other peer k of its room and sent from k's socket to
 * k's sink. No ICE, DTLS, SRTP, RTCP, timers, HTTP or logging: everything left
 * is Node's receive and send path and the kernel's.
 */
import type { Socket } from "node:dgram";
import type { FloorParentMessage } from "./ipc.js";
import { LOOPBACK } from "./loopback.js";
import { bindSockets, floorScenario, sendToParent } from "./floorTopology.js";

const { rooms, peersPerRoom } = floorScenario("floor-forwarder.ts");
const sockets = await bindSockets(rooms * peersPerRoom);
let received = 0;
let forwarded = 0;

function connect(sinkPorts: readonly number[]): void {
  sockets.forEach((socket, i) => {
    const first = i - (i % peersPerRoom);
    const receivers: Array<{ socket: Socket; port: number }> = [];
    for (let k = first; k < first + peersPerRoom; k++) {
      if (k !== i) receivers.push({ socket: sockets[k]!, port: sinkPorts[k]! });
    }
    socket.on("message", (datagram) => {
      received++;
      for (const receiver of receivers) {
        // A fresh buffer per receiver, as the SFU writes a fresh datagram for each subscriber.
        const out = Buffer.allocUnsafe(datagram.length);
        datagram.copy(out);
        receiver.socket.send(out, receiver.port, LOOPBACK);
        forwarded++;
      }
    });
  });
}

process.on("message", (message: FloorParentMessage) => {
  if (message.type === "connect") connect(message.ports);
  else sendToParent({ type: "count", sent: forwarded, received });
});
// The orchestrator went away (crash or kill): do not linger as an orphan.
process.on("disconnect", () => process.exit(0));
sendToParent({ type: "bound", ports: sockets.map((socket) => socket.address().port) });
