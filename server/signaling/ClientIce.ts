import type { IceServer, JoinedMessage } from "../../lib/protocol.js";
import { turnCredentials } from "../../lib/util/turnCredentials.js";
import type { Config } from "../config.js";

/** What `joined` tells a client about ICE. */
export type ClientIceSettings = Pick<JoinedMessage, "iceServers" | "iceTransportPolicy">;

/**
 * The ICE servers a client is told to use (PROTOCOL §13): the STUN servers
 * and, with TURN_URLS, the TURN servers with credentials minted for this
 * peer at this moment, so a resumed session gets fresh ones too.
 */
export class ClientIce {
  readonly #stunServers: IceServer[];
  readonly #config: Pick<Config, "turn" | "iceRelayOnlyClients">;

  constructor(options: { stunServers: IceServer[]; config: Pick<Config, "turn" | "iceRelayOnlyClients"> }) {
    this.#stunServers = options.stunServers;
    this.#config = options.config;
  }

  /** The settings for `peerId`'s `joined`, credentials minted now. */
  forPeer(peerId: string): ClientIceSettings {
    const { turn, iceRelayOnlyClients } = this.#config;
    if (!turn) return { iceServers: this.#stunServers };
    const iceServers = [
      ...this.#stunServers,
      { urls: turn.urls, ...turnCredentials(turn.credentials, peerId) },
    ];
    return { iceServers, ...(iceRelayOnlyClients && { iceTransportPolicy: "relay" as const }) };
  }
}
