/**
 * Messages between the bench orchestrator (run.ts) and its load-client
 * processes (load-client.ts), carried over Node's fork() IPC channel.
 */
import type { HistogramBins } from "./LatencyHistogram.js";

/** One simulated participant. */
export interface PeerSpec {
  /** Unique across the run; written into every payload the peer sends. */
  index: number;
  roomId: string;
  userId: string;
  /** Indices of the peers already in the room when this one joins. */
  expectFrom: number[];
  /**
   * Milliseconds between the peer's packets; absent: 20 (Opus at 50 packets/s). The room-fill
   * runs send sparsely, so that a room of 100 stays within what the machine can forward.
   */
  sendIntervalMs?: number;
  /**
   * A listener of the audience scenario: it offers a `recvonly` audio transceiver and sends
   * nothing (PROTOCOL §5's listen-only client), and joins with a `canPublish: false` token.
   */
  listenOnly?: boolean;
  /** A join token (the audience scenario's carry `canPublish`, PROTOCOL §15). */
  token?: string;
  /** The server this peer's socket connects to, when not the process's own (the 3-node scenario's nodes). */
  url?: string;
}

export type ParentMessage =
  | { type: "join"; peer: PeerSpec }
  /** Count packets whose send time falls in [startMs, endMs) on the shared clock. */
  | { type: "measure"; startMs: number; endMs: number }
  | { type: "report" }
  /** Stop sending; the peers stay connected (the server's cost per silent connection). */
  | { type: "silence" }
  | { type: "close" };

/** What one load-client process measured. */
export interface ClientReport {
  /** Packets its peers sent inside the window, per sender index. */
  sentBySender: Array<[number, number]>;
  /** Packets its peers received inside the window that passed the integrity check. */
  received: number;
  /** The same per sender index: the 3-node scenario splits delivery by the node of the sender's room. Absent in older results. */
  receivedBySender?: Array<[number, number]>;
  /** Packets that failed the integrity check (any time). */
  corrupt: number;
  /** Intact packets that arrived with a counter not above the last one seen on that track. */
  outOfOrder: number;
  /** Forwarded tracks whose MediaStream id was not the peerId of a known participant. */
  unknownStreamTracks: number;
  latency: HistogramBins;
  /** This process's event-loop delay p99 since the window was set: how late its send timers fired. */
  eventLoopP99Ms: number;
  /** SDP its peers received from the server (offers and answers), in bytes and offers, since start. Absent in older results. */
  sdp?: SdpCount;
}

/** SDP that crossed the signaling channel, counted at the clients. */
export interface SdpCount {
  /** Bytes (UTF-8) of every offer and answer the server sent. */
  fromServerBytes: number;
  /** Bytes of every offer and answer the clients sent. */
  toServerBytes: number;
  /** Offers the server sent (renegotiations). */
  serverOffers: number;
}

export type ChildMessage =
  | { type: "ready" }
  | {
      type: "peer-ready";
      index: number;
      peerId: string | null;
      /** Join sent → first packet from every peer in `expectFrom`; null when none expected or never. */
      joinMs: number | null;
      /**
       * Join sent → a forwarded track for every peer the `joined` message listed, with ICE connected
       * (the signaling part of joinMs, without waiting for a packet); null when none listed or never.
       */
      tracksMs: number | null;
      /** Join sent → the peer connection connected (ICE and DTLS); null when it never did. */
      connectedMs: number | null;
      iceConnected: boolean;
      /** The client's connection failed: in ICE (no pair answered its checks) or after ICE (DTLS); null if not. */
      failedIn: "ice" | "dtls" | null;
      /** Join sent → each step of the join (LoadPeer's JoinPhase), ms. */
      phasesMs: Partial<Record<"joined" | "answered" | "offered" | "answeredOffer" | "connected", number>>;
      error: string | null;
    }
  | { type: "report"; report: ClientReport }
  | { type: "closed" };

/**
 * The Node UDP floor's two processes (floor-forwarder.ts and floor-peers.ts)
 * and the orchestrator (FloorProcess.ts). Both children get the topology from
 * BENCH_FLOOR_ROOMS and BENCH_FLOOR_PEERS_PER_ROOM and bind one socket per peer.
 */
export type FloorParentMessage =
  /** The other process's sockets, one port per peer in peer order: start forwarding, or sending. */
  { type: "connect"; ports: number[] } | { type: "count" };

export type FloorChildMessage =
  /** This process's sockets on 127.0.0.1, one port per peer in peer order. */
  | { type: "bound"; ports: number[] }
  /** Datagrams sent and received since start-up. */
  | { type: "count"; sent: number; received: number };
