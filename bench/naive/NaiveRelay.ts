import { randomUUID } from "node:crypto";
import {
  createServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { Registry } from "prom-client";
import { collectProcessMetrics, type EventLoopLag } from "../../server/eventLoopLag.js";
import { Server } from "socket.io";
import type { MediaStreamTrack } from "werift";
import {
  SFU_NAMESPACE,
  type ClientToServerEvents,
  type JoinedMessage,
  type ServerToClientEvents,
} from "../../lib/protocol.js";
import { RelayPeer, type RelaySocket } from "./RelayPeer.js";

/** The naive relay has no room control: everyone is unmuted. */
const UNMUTED = { muted: false, serverMuted: false, deafened: false };

/**
 * The benchmark's baseline: the simplest forwarder that speaks enough of the
 * SFU protocol for the load clients. No validation, no limits, no resume; each
 * subscriber gets its own track fed packet by packet.
 */
export class NaiveRelay {
  readonly #http: HttpServer;
  readonly #io: Server<ClientToServerEvents, ServerToClientEvents>;
  readonly #metrics = new Registry();
  readonly #rooms = new Map<string, Map<string, RelayPeer>>();
  readonly #eventLoopLag: EventLoopLag;
  #closed = false;

  constructor() {
    // Same process metrics as the SFU (at its default sampling interval), so event-loop lag is read the same way for both.
    this.#eventLoopLag = collectProcessMetrics(this.#metrics, 100);
    this.#http = createServer((req, res) => void this.#handleHttp(req, res));
    this.#io = new Server(this.#http, { serveClient: false });
    this.#io.of(SFU_NAMESPACE).on("connection", (socket: RelaySocket) => this.#onConnection(socket));
  }

  listen(port: number): Promise<number> {
    return new Promise((resolve) => {
      this.#http.listen(port, "127.0.0.1", () => resolve((this.#http.address() as AddressInfo).port));
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#eventLoopLag.close();
    const peers = [...this.#rooms.values()].flatMap((room) => [...room.values()]);
    this.#rooms.clear();
    await Promise.allSettled(peers.map((peer) => peer.close()));
    await this.#io.close();
  }

  async #handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.url === "/health") {
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ status: "ok", rooms: this.#rooms.size }));
    } else if (req.url === "/metrics") {
      const body = await this.#metrics.metrics();
      res.writeHead(200, { "Content-Type": this.#metrics.contentType });
      res.end(body);
    } else {
      res.writeHead(404).end();
    }
  }

  #onConnection(socket: RelaySocket): void {
    let peer: RelayPeer | undefined;
    socket.on("join", (message, ack) => {
      if (peer) {
        ack?.({ ok: false, error: { code: "ALREADY_JOINED", message: "already joined" } });
        return;
      }
      const room = this.#room(message.roomId);
      peer = new RelayPeer({
        peerId: randomUUID(),
        userId: message.userId,
        roomId: message.roomId,
        socket,
        onSource: (source, track) => this.#onSource(source, track),
      });
      const joined: JoinedMessage = {
        roomId: message.roomId,
        peerId: peer.peerId,
        userId: message.userId,
        peers: [...room.values()].map((other) => ({
          peerId: other.peerId,
          userId: other.userId,
          ...UNMUTED,
        })),
        iceServers: [],
        resumeToken: randomUUID(),
        resumed: false,
      };
      for (const other of room.values()) {
        if (other.source) peer.subscribe(other, other.source);
      }
      room.set(peer.peerId, peer);
      void socket.join(message.roomId);
      ack?.({ ok: true, joined });
      socket.emit("joined", joined);
      socket.to(message.roomId).emit("user-joined", {
        roomId: message.roomId,
        peerId: peer.peerId,
        userId: message.userId,
        ...UNMUTED,
      });
    });
    socket.on("offer", (description, ack) => {
      void peer?.handleOffer(description);
      ack?.(peer ? { ok: true } : notJoined());
    });
    socket.on("answer", (description, ack) => {
      void peer?.handleAnswer(description);
      ack?.(peer ? { ok: true } : notJoined());
    });
    socket.on("ice-candidate", (candidate, ack) => {
      void peer?.addRemoteCandidate(candidate);
      ack?.(peer ? { ok: true } : notJoined());
    });
    socket.on("disconnect", () => {
      if (peer) void this.#leave(socket, peer);
    });
  }

  /** A participant's track arrived: forward it to everyone else in the room. */
  #onSource(source: RelayPeer, track: MediaStreamTrack): void {
    for (const other of this.#rooms.get(source.roomId)?.values() ?? []) {
      if (other !== source) other.subscribe(source, track);
    }
  }

  async #leave(socket: RelaySocket, peer: RelayPeer): Promise<void> {
    const room = this.#rooms.get(peer.roomId);
    room?.delete(peer.peerId);
    for (const other of room?.values() ?? []) other.unsubscribe(peer.peerId);
    if (room?.size === 0) this.#rooms.delete(peer.roomId);
    socket.to(peer.roomId).emit("user-left", {
      roomId: peer.roomId,
      peerId: peer.peerId,
      userId: peer.userId,
      reason: "disconnect",
    });
    await peer.close();
  }

  #room(roomId: string): Map<string, RelayPeer> {
    let room = this.#rooms.get(roomId);
    if (!room) {
      room = new Map();
      this.#rooms.set(roomId, room);
    }
    return room;
  }
}

function notJoined(): { ok: false; error: { code: "NOT_JOINED"; message: string } } {
  return { ok: false, error: { code: "NOT_JOINED", message: "join first" } };
}
