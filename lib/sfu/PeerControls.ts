import type { PeerControlState } from "../protocol.js";

/** One change to a peer's control state: a self-mute, or a moderator's mute or deafen. */
export type PeerControlChange = Partial<PeerControlState>;

/**
 * A peer's mute and deafen state (PROTOCOL §12). Created by the peer and
 * handed to its published tracks (which stop forwarding while it is muted)
 * and to the tracks forwarded to it (which stop while it is deafened); the
 * forwarding path reads the two precomputed flags, one field load per packet.
 */
export class PeerControls {
  #muted = false;
  #serverMuted = false;
  #deafened = false;
  /** False while the peer is muted by itself or by a moderator: its packets go nowhere. */
  sending = true;
  /** False while the peer is deafened: nothing is forwarded to it. */
  receiving = true;

  get state(): PeerControlState {
    return { muted: this.#muted, serverMuted: this.#serverMuted, deafened: this.#deafened };
  }

  /** Applies `change`; returns whether anything changed. */
  apply(change: PeerControlChange): boolean {
    const before = this.state;
    if (change.muted !== undefined) this.#muted = change.muted;
    if (change.serverMuted !== undefined) this.#serverMuted = change.serverMuted;
    if (change.deafened !== undefined) this.#deafened = change.deafened;
    this.sending = !this.#muted && !this.#serverMuted;
    this.receiving = !this.#deafened;
    return (
      before.muted !== this.#muted ||
      before.serverMuted !== this.#serverMuted ||
      before.deafened !== this.#deafened
    );
  }
}
