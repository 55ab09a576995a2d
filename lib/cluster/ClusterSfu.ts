import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { SfuError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { ActiveSpeaker, ErrorMessage, IceServer } from "../protocol.js";
import type { CloseReason } from "../sfu/closeReason.js";
import {
  closeRoom,
  moderate,
  type Moderation,
  type ModerationResult,
  type RoomCloseResult,
} from "../sfu/moderate.js";
import type { JoinRequest, PeerSession, RoomMembers, Sfu, SfuEvents, SfuState } from "../sfu/Sfu.js";
import type { RoomSnapshot } from "../types.js";
import { sameSecret } from "../util/sameSecret.js";
import { TypedEmitter } from "../util/TypedEmitter.js";
import { ClusterStore, KEYS, unavailable } from "./ClusterStore.js";
import type { Admission, CallName, Calls, MemberInfo, NodeInfo, Post, RoomEvent } from "./messages.js";
import { MirrorRoom } from "./MirrorRoom.js";
import { NodeRegistry } from "./NodeRegistry.js";
import { MovedError, RedisBus } from "./RedisBus.js";
import { CALL_TIMEOUT_MS, RelayPeer } from "./RelayPeer.js";
import { RemoteMember } from "./RemoteMember.js";

export interface ClusterSfuOptions {
  /** The forwarding service for the rooms placed on this node. */
  local: Sfu;
  redisUrl: string;
  nodeId: string;
  negotiationTimeoutMs: number;
  logger: Logger;
}

export type ClusterSfuEvents = SfuEvents & {
  /**
   * This node's socket must let the session go without a `user-left`: a newer
   * socket on another node took it over, or (with `notice`) the room's node is
   * gone and the client should rejoin.
   */
  "session-released": [PeerSession, ErrorMessage | undefined];
  /** A room event from the room's node for this node's socket of the peer (PROTOCOL §12). */
  "room-event": [PeerSession, RoomEvent];
};

/** A node answering `/debug/*` for the cluster waits this long for each other node. */
const STATE_TIMEOUT_MS = 2000;
/** At shutdown, joins in flight get this long (a Redis command's bound) to settle before the node deregisters. */
const PENDING_JOINS_SETTLE_MS = 2500;
/** A join retries when the room moved between placement and arrival (it was released meanwhile). */
const PLACEMENT_ATTEMPTS = 3;

const OWNER_GONE: ErrorMessage = {
  code: "SHUTTING_DOWN",
  message: "the node running this room went away; join again",
};

/** A peer whose media runs here and whose socket is on another node. */
interface RemoteSignaling {
  peer: PeerSession;
  nodeId: string;
  unsubscribers: Array<() => void>;
}

/**
 * Several SFU nodes as one (PROTOCOL §14). A room's media lives on one node,
 * placed through Redis; this node runs its own rooms with the local service,
 * and relays the signaling of sessions whose rooms live elsewhere to their
 * node over Redis pub/sub, so any node takes any client.
 */
export class ClusterSfu extends TypedEmitter<ClusterSfuEvents> implements Sfu {
  readonly nodeId: string;
  /** This process: a restart under the same NODE_ID is a different node to the others. */
  readonly incarnation = randomUUID();
  readonly #local: Sfu;
  readonly #options: ClusterSfuOptions;
  readonly #logger: Logger;
  readonly #store: ClusterStore;
  readonly #bus: RedisBus;
  readonly #registry: NodeRegistry;
  /** Rooms placed elsewhere with at least one member signaled here. */
  readonly #mirrors = new Map<string, MirrorRoom>();
  /** Local peers signaled through another node, by peer id. */
  readonly #remote = new Map<string, RemoteSignaling>();
  /** Joins in flight here per room: they keep the room placed on this node. */
  readonly #pendingJoins = new Map<string, number>();
  readonly #unsubscribers: Array<() => void>;
  #closing: Promise<void> | undefined;

  constructor(options: ClusterSfuOptions) {
    super(options.logger);
    this.#options = options;
    this.nodeId = options.nodeId;
    this.#local = options.local;
    this.#logger = options.logger.child({ component: "cluster", nodeId: options.nodeId });
    this.#store = new ClusterStore({ redisUrl: options.redisUrl, nodeId: this.nodeId, logger: this.#logger });
    this.#bus = new RedisBus({ store: this.#store, nodeId: this.nodeId, logger: this.#logger });
    this.#bus.handle(
      (from, method, args) => this.#answer(from, method, args),
      (from, message) => this.#onPost(from, message),
    );
    this.#registry = new NodeRegistry({
      store: this.#store,
      nodeId: this.nodeId,
      incarnation: this.incarnation,
      report: () => ({ rooms: this.#local.rooms.length, peers: this.#local.peerCount }),
      onFreshRegistration: (released) => this.#reclaimRooms(released),
      logger: this.#logger,
    });
    this.#registry.on("node-down", (nodeId, incarnation) => this.#onNodeDown(nodeId, incarnation));
    const local = this.#local;
    this.#unsubscribers = [
      local.on("peer-joined", (room, peer) => this.#onLocalJoin(room, peer)),
      local.on("peer-left", (room, peer, reason) => this.#onLocalLeave(room, peer, reason)),
      local.on("peer-connected", (peer) => this.emit("peer-connected", peer)),
      local.on("peer-updated", (room, peer) => this.#onLocalUpdate(room, peer)),
      local.on("active-speakers", (room, speakers) => this.#onLocalSpeakers(room, speakers)),
      local.on("track-published", (room, peer, trackId) => this.emit("track-published", room, peer, trackId)),
      local.on("track-unpublished", (room, peer, trackId) =>
        this.emit("track-unpublished", room, peer, trackId),
      ),
    ];
    this.#registry.start();
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  get iceServers(): IceServer[] {
    return this.#local.iceServers;
  }

  /** The rooms whose media runs on this node (`/health` and `/metrics` are per node). */
  get rooms(): RoomMembers[] {
    return this.#local.rooms;
  }

  get peerCount(): number {
    return this.#local.peerCount;
  }

  /** Every live node, as of the last heartbeat (`GET /debug/nodes`). */
  get nodes(): NodeInfo[] {
    return this.#registry.nodes;
  }

  getRoom(roomId: string): RoomMembers | undefined {
    return this.#local.getRoom(roomId) ?? this.#mirrors.get(roomId);
  }

  async join(request: JoinRequest): Promise<PeerSession> {
    this.#assertOpen();
    // A room already running here needs no Redis: it keeps taking joins through an outage.
    if (this.#local.getRoom(request.roomId)) return this.#joinHere(request);
    if (!this.#registry.registered) throw unavailable();
    let candidate = this.#registry.leastLoaded();
    for (let attempt = 0; attempt < PLACEMENT_ATTEMPTS; attempt++) {
      const owner = await this.#store.place(request.roomId, candidate);
      try {
        if (owner === this.nodeId) return await this.#joinHere(request);
        const admission = await this.#bus.call(owner, "join", { request }, CALL_TIMEOUT_MS);
        return this.#installRelay(owner, admission);
      } catch (error) {
        if (!(error instanceof MovedError)) throw error;
        candidate = error.owner;
      }
    }
    throw new SfuError("INTERNAL", "the room's placement did not settle; try again");
  }

  async findResumable(resumeToken: string, roomId: string, userId: string): Promise<PeerSession | undefined> {
    const here = await this.#local.findResumable(resumeToken, roomId, userId);
    if (here) {
      this.#takeOver(here, this.nodeId);
      return here;
    }
    const relay = this.#mirrors
      .get(roomId)
      ?.relays.find((peer) => peer.userId === userId && sameSecret(peer.resumeToken, resumeToken));
    if (relay) return relay;
    if (this.#local.getRoom(roomId)) return undefined;
    let owner: string | null;
    try {
      owner = await this.#store.redis.get(KEYS.room(roomId));
    } catch (error) {
      throw unavailable(error);
    }
    if (owner === null || owner === this.nodeId) return undefined;
    const admission = await this.#bus.call(owner, "resume", { resumeToken, roomId, userId }, CALL_TIMEOUT_MS);
    return admission ? this.#installRelay(owner, admission) : undefined;
  }

  /**
   * A moderator's action on a peer, applied on the room's node wherever the
   * request arrived (PROTOCOL §12); that node not answering in time is an error.
   */
  async moderate(roomId: string, peerId: string, action: Moderation): Promise<ModerationResult> {
    this.#assertOpen();
    const here = this.#local.getRoom(roomId);
    if (here) return moderate(here, peerId, action, () => this.#ownState());
    const owner = await this.#ownerElsewhere(roomId);
    if (owner === undefined) return { status: "no-room" };
    return this.#bus.call(owner, "moderate", { roomId, peerId, action }, CALL_TIMEOUT_MS);
  }

  /**
   * Closes a room (`DELETE /admin/rooms/:roomId`) on its node wherever the
   * request arrived: a node that only mirrors the room would end its own
   * sockets' sessions and leave the rest talking.
   */
  async closeRoom(roomId: string): Promise<RoomCloseResult> {
    this.#assertOpen();
    const here = this.#local.getRoom(roomId);
    if (here) return closeRoom(here);
    const owner = await this.#ownerElsewhere(roomId);
    if (owner === undefined) return { status: "no-room" };
    return this.#bus.call(owner, "close-room", { roomId }, CALL_TIMEOUT_MS);
  }

  /** The node a room not running here is placed on, per Redis; undefined when nowhere (or, stale, here). */
  async #ownerElsewhere(roomId: string): Promise<string | undefined> {
    let owner: string | null;
    try {
      owner = await this.#store.redis.get(KEYS.room(roomId));
    } catch (error) {
      throw unavailable(error);
    }
    return owner === null || owner === this.nodeId ? undefined : owner;
  }

  /** The whole cluster's rooms, each row marked with its node; a node that does not answer in time is left out. */
  async state(): Promise<SfuState> {
    const own = await this.#ownState();
    const others = this.#registry.nodes.filter((node) => node.nodeId !== this.nodeId);
    const reads = await Promise.allSettled(
      others.map((node) => this.#bus.call(node.nodeId, "state", null, STATE_TIMEOUT_MS)),
    );
    const rooms = [...own.rooms];
    reads.forEach((read, i) => {
      if (read.status === "fulfilled") rooms.push(...read.value.rooms);
      else this.#logger.debug("a node's state was not read", { nodeId: others[i]!.nodeId });
    });
    return { rooms, totals: own.totals };
  }

  /**
   * Leaves the cluster in order: sessions signaled elsewhere are told to
   * rejoin, this node's own relayed sessions end on their rooms' nodes, the
   * local rooms close, and Redis forgets this node and its rooms.
   */
  close(reason: CloseReason = "kicked"): Promise<void> {
    this.#closing ??= (async () => {
      this.#registry.close();
      for (const remote of [...this.#remote.values()]) {
        this.#bus.post(remote.nodeId, { kind: "owner-leaving", peerId: remote.peer.id });
        this.#forgetRemote(remote);
      }
      for (const mirror of [...this.#mirrors.values()]) {
        for (const relay of mirror.relays) relay.close("disconnect");
      }
      this.#mirrors.clear();
      for (const unsubscribe of this.#unsubscribers.splice(0)) unsubscribe();
      await this.#local.close(reason);
      // A placement still on its way to Redis would land after the deregistration; let it land first.
      const settleBy = Date.now() + PENDING_JOINS_SETTLE_MS;
      while (this.#pendingJoins.size > 0 && Date.now() < settleBy) await sleep(20);
      try {
        await this.#store.deregister();
      } catch (error) {
        this.#logger.warn("could not deregister from Redis; the node key expires on its own", {
          error: (error as Error).message,
        });
      }
      for (const node of this.#registry.nodes) {
        if (node.nodeId !== this.nodeId)
          this.#bus.post(node.nodeId, { kind: "node-leaving", incarnation: this.incarnation });
      }
      this.#bus.close();
      await this.#store.close();
      this.removeAllListeners();
      this.#logger.info("left the cluster");
    })();
    return this.#closing;
  }

  #assertOpen(): void {
    if (this.closed) throw new SfuError("SHUTTING_DOWN", "the SFU is shutting down");
  }

  /** Joins a room whose media runs (or starts) on this node, placing it here first if it is new. */
  async #joinHere(request: JoinRequest): Promise<PeerSession> {
    const { roomId } = request;
    this.#pendingJoins.set(roomId, (this.#pendingJoins.get(roomId) ?? 0) + 1);
    try {
      if (!this.#local.getRoom(roomId)) {
        const owner = await this.#store.place(roomId, this.nodeId);
        if (owner !== this.nodeId) throw new MovedError(owner);
      }
      this.#assertOpen();
      return await this.#local.join(request);
    } finally {
      const left = (this.#pendingJoins.get(roomId) ?? 1) - 1;
      if (left > 0) this.#pendingJoins.set(roomId, left);
      else this.#pendingJoins.delete(roomId);
      this.#releaseIfUnused(roomId);
    }
  }

  /** Lets Redis forget a room that no longer runs here, once nothing here is about to start it again. */
  #releaseIfUnused(roomId: string): void {
    setImmediate(() => {
      if (this.closed || this.#local.getRoom(roomId) || this.#pendingJoins.has(roomId)) return;
      this.#store.release(roomId).catch((error: unknown) => {
        this.#logger.warn("could not release a room; it stays placed here", {
          roomId,
          error: (error as Error).message,
        });
      });
    });
  }

  #installRelay(owner: string, admission: Admission): RelayPeer {
    const { peer: info, members, incarnation } = admission;
    let mirror = this.#mirrors.get(info.roomId);
    if (mirror && (mirror.owner !== owner || mirror.ownerIncarnation !== incarnation)) {
      // A mirror of the room's earlier placement: its sessions were ended when its node went.
      this.#dropMirror(mirror, OWNER_GONE);
      mirror = undefined;
    }
    if (!mirror) {
      mirror = new MirrorRoom({ id: info.roomId, owner, ownerIncarnation: incarnation });
      for (const member of members) {
        if (member.peerId !== info.id) mirror.set(new RemoteMember(info.roomId, member, this.#logger));
      }
      this.#mirrors.set(mirror.id, mirror);
    }
    const self = members.find((member) => member.peerId === info.id);
    const relay = new RelayPeer({
      info,
      controlState: self?.controlState ?? { muted: false, serverMuted: false, deafened: false },
      owner,
      ownerIncarnation: incarnation,
      bus: this.#bus,
      negotiationTimeoutMs: this.#options.negotiationTimeoutMs,
      logger: this.#logger,
    });
    const room = mirror;
    room.set(relay);
    relay.once("connected", () => this.emit("peer-connected", relay));
    relay.once("close", (reason) => {
      room.remove(relay.id);
      this.emit("peer-left", room, relay, reason);
      this.#forgetMirrorIfUnused(room);
    });
    return relay;
  }

  #forgetMirrorIfUnused(mirror: MirrorRoom): void {
    if (mirror.relays.length === 0 && this.#mirrors.get(mirror.id) === mirror)
      this.#mirrors.delete(mirror.id);
  }

  /** Ends this node's side of every session in a mirrored room; `notice` tells their clients why. */
  #dropMirror(mirror: MirrorRoom, notice: ErrorMessage | undefined): void {
    if (this.#mirrors.get(mirror.id) === mirror) this.#mirrors.delete(mirror.id);
    for (const relay of mirror.relays) {
      relay.drop();
      this.emit("session-released", relay, notice);
    }
  }

  /** `peer` is now signaled through `nodeId`: whoever held its socket before lets it go. */
  #takeOver(peer: PeerSession, nodeId: string): void {
    const remote = this.#remote.get(peer.id);
    if (remote) {
      if (remote.nodeId !== nodeId) this.#bus.post(remote.nodeId, { kind: "superseded", peerId: peer.id });
      this.#forgetRemote(remote);
    } else if (nodeId !== this.nodeId) {
      this.emit("session-released", peer, undefined);
    }
    if (nodeId !== this.nodeId) this.#signalThrough(peer, nodeId);
  }

  /** Sends a local peer's events to the node that holds its socket. */
  #signalThrough(peer: PeerSession, nodeId: string): void {
    const post = (message: Post) => this.#bus.post(nodeId, message);
    const remote: RemoteSignaling = {
      peer,
      nodeId,
      unsubscribers: [
        peer.on("offer", (description) => post({ kind: "offer", peerId: peer.id, description })),
        peer.on("ice-candidate", (candidate) => post({ kind: "ice-candidate", peerId: peer.id, candidate })),
        peer.on("connected", () => post({ kind: "connected", peerId: peer.id })),
      ],
    };
    this.#remote.set(peer.id, remote);
  }

  #forgetRemote(remote: RemoteSignaling): void {
    for (const unsubscribe of remote.unsubscribers.splice(0)) unsubscribe();
    if (this.#remote.get(remote.peer.id) === remote) this.#remote.delete(remote.peer.id);
  }

  /** The nodes, other than this one, holding sockets of the room's members. */
  #signalingNodes(roomId: string): Set<string> {
    const nodes = new Set<string>();
    for (const remote of this.#remote.values()) if (remote.peer.roomId === roomId) nodes.add(remote.nodeId);
    return nodes;
  }

  #onLocalJoin(room: RoomMembers, peer: PeerSession): void {
    this.emit("peer-joined", room, peer);
    const member = memberOf(peer);
    for (const nodeId of this.#signalingNodes(room.id))
      this.#bus.post(nodeId, { kind: "peer-joined", roomId: room.id, member });
  }

  #onLocalUpdate(room: RoomMembers, peer: PeerSession): void {
    this.emit("peer-updated", room, peer);
    const message = { roomId: room.id, peerId: peer.id, ...peer.controlState };
    this.#relayRoomEvent(room.id, { name: "peer-updated", message });
  }

  #onLocalSpeakers(room: RoomMembers, speakers: ActiveSpeaker[]): void {
    this.emit("active-speakers", room, speakers);
    this.#relayRoomEvent(room.id, { name: "active-speakers", message: { roomId: room.id, speakers } });
  }

  /** Hands a room event to the room's members whose sockets are on other nodes: one post per node. */
  #relayRoomEvent(roomId: string, event: RoomEvent): void {
    const byNode = new Map<string, string[]>();
    for (const remote of this.#remote.values()) {
      if (remote.peer.roomId !== roomId || remote.peer.closed) continue;
      byNode.set(remote.nodeId, [...(byNode.get(remote.nodeId) ?? []), remote.peer.id]);
    }
    for (const [nodeId, peerIds] of byNode)
      this.#bus.post(nodeId, { kind: "room-event", roomId, peerIds, event });
  }

  #onLocalLeave(room: RoomMembers, peer: PeerSession, reason: CloseReason): void {
    const nodes = this.#signalingNodes(room.id);
    const remote = this.#remote.get(peer.id);
    if (remote) this.#forgetRemote(remote);
    this.emit("peer-left", room, peer, reason);
    for (const nodeId of nodes)
      this.#bus.post(nodeId, { kind: "peer-left", roomId: room.id, peerId: peer.id, reason });
    this.#releaseIfUnused(room.id);
  }

  /** A call from another node, for a room that lives here (or for this node's state). */
  async #answer(from: string, method: CallName, args: unknown): Promise<unknown> {
    if (method === "state") return this.#ownState();
    this.#assertOpen();
    switch (method) {
      case "join": {
        const { request } = args as Calls["join"]["args"];
        const peer = await this.#joinHere(request);
        if (peer.closed) throw new SfuError("NEGOTIATION_FAILED", "the session ended as it was created");
        this.#signalThrough(peer, from);
        return this.#admission(peer);
      }
      case "resume": {
        const { resumeToken, roomId, userId } = args as Calls["resume"]["args"];
        const peer = await this.#local.findResumable(resumeToken, roomId, userId);
        if (!peer) return null;
        this.#takeOver(peer, from);
        return this.#admission(peer);
      }
      case "offer": {
        const { peerId, description } = args as Calls["offer"]["args"];
        return this.#signaledFrom(from, peerId).handleOffer(description);
      }
      case "answer": {
        const { peerId, description } = args as Calls["answer"]["args"];
        await this.#signaledFrom(from, peerId).handleAnswer(description);
        return null;
      }
      case "candidate": {
        const { peerId, candidate } = args as Calls["candidate"]["args"];
        await this.#signaledFrom(from, peerId).addIceCandidate(candidate);
        return null;
      }
      case "control": {
        const { peerId, change } = args as Calls["control"]["args"];
        await this.#signaledFrom(from, peerId).control(change);
        return null;
      }
      case "moderate": {
        const { roomId, peerId, action } = args as Calls["moderate"]["args"];
        return moderate(this.#local.getRoom(roomId), peerId, action, () => this.#ownState());
      }
      case "close-room": {
        const { roomId } = args as Calls["close-room"]["args"];
        return closeRoom(this.#local.getRoom(roomId));
      }
    }
  }

  /** The local peer `from` signals; a node a newer socket replaced is refused, so the newer socket wins. */
  #signaledFrom(from: string, peerId: string): PeerSession {
    const remote = this.#remote.get(peerId);
    if (!remote || remote.nodeId !== from || remote.peer.closed)
      throw new SfuError("NOT_JOINED", "this session has ended or moved to another socket");
    return remote.peer;
  }

  #admission(peer: PeerSession): Admission {
    const room = this.#local.getRoom(peer.roomId);
    return {
      peer: {
        id: peer.id,
        roomId: peer.roomId,
        userId: peer.userId,
        displayName: peer.displayName,
        resumeToken: peer.resumeToken,
      },
      members: (room?.peers ?? []).map(memberOf),
      incarnation: this.incarnation,
    };
  }

  #onPost(from: string, message: Post): void {
    switch (message.kind) {
      case "node-leaving":
        this.#registry.forget(from, message.incarnation);
        return;
      case "detach":
      case "attach":
      case "close-peer": {
        const remote = this.#remote.get(message.peerId);
        if (!remote || remote.nodeId !== from || remote.peer.closed) return;
        if (message.kind === "close-peer") remote.peer.close(message.reason);
        else if (message.kind === "detach") remote.peer.detach();
        else remote.peer.attach();
        return;
      }
      case "offer":
      case "ice-candidate":
      case "connected": {
        const relay = this.#relayFrom(from, message.peerId);
        if (!relay) return;
        if (message.kind === "offer") relay.deliver("offer", message.description);
        else if (message.kind === "ice-candidate") relay.deliver("ice-candidate", message.candidate);
        else relay.deliver("connected");
        return;
      }
      case "peer-joined": {
        const mirror = this.#mirrors.get(message.roomId);
        if (!mirror || mirror.owner !== from || mirror.get(message.member.peerId)) return;
        const member = new RemoteMember(message.roomId, message.member, this.#logger);
        mirror.set(member);
        this.emit("peer-joined", mirror, member);
        return;
      }
      case "peer-left": {
        const mirror = this.#mirrors.get(message.roomId);
        const member = mirror?.owner === from ? mirror.get(message.peerId) : undefined;
        if (!mirror || !member) return;
        if (member instanceof RelayPeer) {
          member.ended(message.reason);
          return;
        }
        mirror.remove(member.id);
        this.emit("peer-left", mirror, member, message.reason);
        return;
      }
      case "room-event": {
        const mirror = this.#mirrors.get(message.roomId);
        if (!mirror || mirror.owner !== from) return;
        const { event } = message;
        if (event.name === "peer-updated") {
          const member = mirror.get(event.message.peerId);
          if (member instanceof RelayPeer || member instanceof RemoteMember) {
            const { muted, serverMuted, deafened } = event.message;
            member.mirrorControl({ muted, serverMuted, deafened });
          }
        }
        for (const peerId of message.peerIds) {
          const relay = mirror.get(peerId);
          if (relay instanceof RelayPeer && !relay.closed) this.emit("room-event", relay, event);
        }
        return;
      }
      case "superseded":
      case "owner-leaving": {
        const relay = this.#relayFrom(from, message.peerId);
        if (!relay) return;
        const mirror = this.#mirrors.get(relay.roomId);
        relay.drop();
        mirror?.remove(relay.id);
        if (mirror) this.#forgetMirrorIfUnused(mirror);
        this.emit("session-released", relay, message.kind === "owner-leaving" ? OWNER_GONE : undefined);
        return;
      }
    }
  }

  #relayFrom(owner: string, peerId: string): RelayPeer | undefined {
    for (const mirror of this.#mirrors.values()) {
      if (mirror.owner !== owner) continue;
      const member = mirror.get(peerId);
      if (member instanceof RelayPeer && !member.closed) return member;
    }
    return undefined;
  }

  /**
   * A node is gone (or restarted): sessions of its rooms signaled here are
   * told to rejoin; this node's sessions it signaled start their grace period,
   * waiting for a resume through a live node.
   */
  #onNodeDown(nodeId: string, incarnation: string): void {
    for (const mirror of [...this.#mirrors.values()]) {
      if (mirror.owner === nodeId && mirror.ownerIncarnation === incarnation) {
        this.#logger.warn("a room's node went away; its clients here rejoin", { roomId: mirror.id, nodeId });
        this.#dropMirror(mirror, OWNER_GONE);
      }
    }
    for (const remote of this.#remote.values()) {
      if (remote.nodeId === nodeId && !remote.peer.closed) remote.peer.detach();
    }
  }

  /**
   * Redis did not know this process: record the rooms running here, and
   * forget what it held before. If the others had found this process dead
   * (it was paused, or cut off from Redis), they told the clients of its
   * rooms on their nodes to rejoin: those sessions end here too.
   */
  async #reclaimRooms(released: boolean): Promise<void> {
    if (released) {
      const told = [...this.#remote.values()];
      this.#logger.warn("the cluster had taken this node for dead; ending its relayed sessions", {
        sessions: told.length,
      });
      for (const remote of told) remote.peer.close("disconnect");
      // The rooms' nodes started the grace period of the sessions whose sockets are here; they still are.
      for (const mirror of this.#mirrors.values()) for (const relay of mirror.relays) relay.attach();
    }
    const rooms = this.#local.rooms.map((room) => room.id);
    const lost = await this.#store.resetNode(rooms);
    if (lost.length > 0)
      this.#logger.error("rooms running here were placed on another node meanwhile", { rooms: lost });
  }

  async #ownState(): Promise<SfuState> {
    const state = await this.#local.state();
    return {
      rooms: state.rooms.map((room): RoomSnapshot => this.#markRoom(room)),
      totals: state.totals,
    };
  }

  #markRoom(room: RoomSnapshot): RoomSnapshot {
    const nodeId = this.nodeId;
    return {
      ...room,
      nodeId,
      peers: room.peers.map((peer) => ({
        ...peer,
        nodeId,
        signalingNodeId: this.#remote.get(peer.peerId)?.nodeId ?? nodeId,
      })),
      tracks: room.tracks.map((track) => ({ ...track, nodeId })),
    };
  }
}

function memberOf(peer: PeerSession): MemberInfo {
  return {
    peerId: peer.id,
    userId: peer.userId,
    ...(peer.displayName !== undefined && { displayName: peer.displayName }),
    controlState: peer.controlState,
  };
}
