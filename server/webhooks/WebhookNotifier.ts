import { createHmac, randomUUID } from "node:crypto";
import type { Logger } from "../../lib/logger.js";
import type { LeaveReason, PeerControlState } from "../../lib/protocol.js";
import { toWire } from "../../lib/sfu/closeReason.js";
import type { PeerSession, RoomMembers, Sfu } from "../../lib/sfu/Sfu.js";
import { WebhookQueue, type DeliveryResult } from "./WebhookQueue.js";

/** The events a receiver gets (PROTOCOL §12). */
export type WebhookEvent =
  | "room_started"
  | "room_finished"
  | "participant_joined"
  | "participant_left"
  | "track_published"
  | "track_unpublished"
  | "participant_muted";

/** A webhook's JSON body. */
export interface WebhookBody {
  id: string;
  event: WebhookEvent;
  /** Unix time in milliseconds. */
  createdAt: number;
  room: { roomId: string };
  participant?: {
    peerId: string;
    userId: string;
    displayName?: string;
    /** On `participant_muted`: the state after the change. */
    muted?: boolean;
    serverMuted?: boolean;
  };
  /** On `participant_left`: why (the `user-left` reasons). */
  reason?: LeaveReason;
  /** On `track_published` and `track_unpublished`. */
  track?: { trackId: string };
}

export interface WebhookNotifierOptions {
  sfu: Sfu;
  urls: string[];
  secret: string;
  maxQueueLength: number;
  retryMs: number;
  /** PROTOCOL §12: 5 s. */
  timeoutMs?: number;
  onResult: (result: DeliveryResult) => void;
  /** Events waiting over every URL. */
  onQueueLength: (length: number) => void;
  logger: Logger;
}

/**
 * Turns the SFU's room and participant events into signed webhook bodies
 * and hands them to one {@link WebhookQueue} per URL. Runs in the main
 * thread on domain events only: never on the media path, and a push never
 * waits for a receiver.
 */
export class WebhookNotifier {
  readonly #options: WebhookNotifierOptions;
  readonly #queues: WebhookQueue[];
  readonly #unsubscribers: Array<() => void>;
  /** Each participant's mute state as last reported, so that a deafen alone is not a `participant_muted`. */
  readonly #muteStates = new Map<string, Pick<PeerControlState, "muted" | "serverMuted">>();
  #closed = false;

  constructor(options: WebhookNotifierOptions) {
    this.#options = options;
    const logger = options.logger.child({ component: "webhooks" });
    const onLength = () => options.onQueueLength(this.queueLength);
    this.#queues = options.urls.map(
      (url) =>
        new WebhookQueue({
          url,
          maxLength: options.maxQueueLength,
          retryMs: options.retryMs,
          timeoutMs: options.timeoutMs ?? 5000,
          onResult: options.onResult,
          onLength,
          logger,
        }),
    );
    const { sfu } = options;
    this.#unsubscribers = [
      sfu.on("peer-joined", (room, peer) => {
        if (room.size === 1) this.#send("room_started", room);
        this.#muteStates.set(peer.id, muteState(peer.controlState));
        this.#send("participant_joined", room, { participant: participant(peer) });
      }),
      sfu.on("peer-left", (room, peer, reason) => {
        this.#muteStates.delete(peer.id);
        // The wire's reason; a shutdown has none there (the whole room goes), so it has none here.
        const { userLeft } = toWire(reason);
        this.#send("participant_left", room, {
          participant: participant(peer),
          ...(userLeft !== undefined && { reason: userLeft }),
        });
        if (room.size === 0) this.#send("room_finished", room);
      }),
      sfu.on("track-published", (room, peer, trackId) =>
        this.#send("track_published", room, { participant: participant(peer), track: { trackId } }),
      ),
      sfu.on("track-unpublished", (room, peer, trackId) =>
        this.#send("track_unpublished", room, { participant: participant(peer), track: { trackId } }),
      ),
      sfu.on("peer-updated", (room, peer) => this.#onUpdated(room, peer)),
    ];
  }

  get queueLength(): number {
    return this.#queues.reduce((total, queue) => total + queue.length, 0);
  }

  /** Stops listening and delivering; events not yet delivered are dropped (and logged). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const unsubscribe of this.#unsubscribers.splice(0)) unsubscribe();
    for (const queue of this.#queues) queue.close();
    this.#muteStates.clear();
  }

  #onUpdated(room: RoomMembers, peer: PeerSession): void {
    const now = muteState(peer.controlState);
    const before = this.#muteStates.get(peer.id);
    if (before && before.muted === now.muted && before.serverMuted === now.serverMuted) return;
    this.#muteStates.set(peer.id, now);
    this.#send("participant_muted", room, { participant: { ...participant(peer), ...now } });
  }

  #send(event: WebhookEvent, room: RoomMembers, extra: Partial<WebhookBody> = {}): void {
    if (this.#closed) return;
    const body: WebhookBody = {
      id: randomUUID(),
      event,
      createdAt: Date.now(),
      room: { roomId: room.id },
      ...extra,
    };
    const json = JSON.stringify(body);
    const signature = `sha256=${createHmac("sha256", this.#options.secret).update(json).digest("hex")}`;
    for (const queue of this.#queues) queue.push({ id: body.id, event, body: json, signature });
  }
}

function participant(peer: PeerSession): NonNullable<WebhookBody["participant"]> {
  return {
    peerId: peer.id,
    userId: peer.userId,
    ...(peer.displayName !== undefined && { displayName: peer.displayName }),
  };
}

function muteState(state: PeerControlState): Pick<PeerControlState, "muted" | "serverMuted"> {
  return { muted: state.muted, serverMuted: state.serverMuted };
}
