/**
 * A forwarding worker: one {@link SfuService} for the rooms the main thread
 * routes here, driven over the worker's message port. Media never leaves
 * this thread; only signaling and room state cross.
 */
import { getHeapStatistics } from "node:v8";
import { parentPort, workerData } from "node:worker_threads";
import { SfuError } from "../../errors.js";
import { createRootLogger } from "../../logger.js";
import type { Peer } from "../Peer.js";
import { SfuService } from "../SfuService.js";
import type { FromWorker, PeerInfo, ProcessErrorKind, ToWorker, WireError, WorkerSetup } from "./messages.js";

if (!parentPort) throw new Error("lib/sfu/cluster/worker.ts runs only as a worker thread");
const port = parentPort;

const setup = workerData as WorkerSetup;
const logger = createRootLogger(setup.logLevel).child({ worker: setup.index });
const service = new SfuService({ ...setup.service, logger });
const peers = new Map<string, Peer>();

const send = (message: FromWorker): void => port.postMessage(message);

service.on("peer-joined", (_room, peer) => {
  peers.set(peer.id, peer);
  peer.on("offer", (description) => send({ kind: "offer", peerId: peer.id, description }));
  peer.on("ice-candidate", (candidate) => send({ kind: "ice-candidate", peerId: peer.id, candidate }));
  send({ kind: "peer-joined", peer: describe(peer) });
});
service.on("peer-left", (_room, peer, reason) => {
  peers.delete(peer.id);
  send({ kind: "peer-left", peerId: peer.id, reason });
});
service.on("peer-connected", (peer) => send({ kind: "peer-connected", peerId: peer.id }));
service.on("peer-updated", (_room, peer) =>
  send({ kind: "peer-updated", peerId: peer.id, state: peer.controlState }),
);
service.on("active-speakers", (room, speakers) =>
  send({ kind: "active-speakers", roomId: room.id, speakers }),
);
service.on("track-published", (_room, peer, trackId) =>
  send({ kind: "track-published", peerId: peer.id, trackId }),
);
service.on("track-unpublished", (_room, peer, trackId) =>
  send({ kind: "track-unpublished", peerId: peer.id, trackId }),
);

port.on("message", (message: ToWorker) => {
  switch (message.kind) {
    case "attach":
      // A peer that closed meanwhile is already out of `peers` (its peer-left is on the way).
      peers.get(message.peerId)?.attach();
      return;
    case "detach":
      // The main thread runs the grace period (RemotePeer.detach).
      peers.get(message.peerId)?.detach(null);
      return;
    case "close-peer":
      peers.get(message.peerId)?.close(message.reason);
      return;
    case "call":
      void answer(message.id, () => call(message));
      return;
  }
});

async function call(message: Extract<ToWorker, { kind: "call" }>): Promise<unknown> {
  switch (message.method) {
    case "join":
      return describe(service.join(message.args));
    case "offer":
      return livePeer(message.args.peerId).handleOffer(message.args.description);
    case "answer":
      await livePeer(message.args.peerId).handleAnswer(message.args.description);
      return null;
    case "candidate":
      await livePeer(message.args.peerId).addIceCandidate(message.args.candidate);
      return null;
    case "control":
      // Its peer-updated goes out before this reply, so the main thread's mirror is current when the call returns.
      livePeer(message.args.peerId).control(message.args.change);
      return null;
    case "state":
      return service.state();
    case "heap": {
      const heap = getHeapStatistics();
      return {
        usedBytes: heap.used_heap_size,
        totalBytes: heap.total_heap_size,
        externalBytes: heap.external_memory,
      };
    }
    case "close":
      // A worker holds no shared media socket (ICE_UDP_PORT refuses workers): the peers are closed on return.
      void service.close(message.args.reason);
      // Nothing is left to drive: let the thread end once werift's sockets have closed.
      setImmediate(() => port.close());
      return null;
  }
}

async function answer(id: number, run: () => Promise<unknown>): Promise<void> {
  try {
    send({ kind: "reply", id, result: await run() });
  } catch (error) {
    send({ kind: "reply", id, error: toWire(error) });
  }
}

function livePeer(peerId: string): Peer {
  const peer = peers.get(peerId);
  if (!peer || peer.closed) throw new SfuError("NOT_JOINED", "join a room first");
  return peer;
}

function describe(peer: Peer): PeerInfo {
  return {
    id: peer.id,
    roomId: peer.roomId,
    userId: peer.userId,
    displayName: peer.displayName,
    resumeToken: peer.resumeToken,
  };
}

function toWire(error: unknown): WireError {
  if (error instanceof SfuError) return { code: error.code, message: error.message };
  logger.error("request failed in worker", { error });
  return { message: error instanceof Error ? error.message : String(error) };
}

// As in the main thread (server/shutdown.ts): one bad callback must not take a worker's rooms down.
const report = (kind: ProcessErrorKind) => (error: unknown) => {
  logger.error(kind === "uncaughtException" ? "uncaught exception" : "unhandled rejection", { error });
  send({ kind: "process-error", error: kind });
};
process.on("uncaughtException", report("uncaughtException"));
process.on("unhandledRejection", report("unhandledRejection"));
