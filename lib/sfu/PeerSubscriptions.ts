import { MediaStream, RTCRtpHeaderExtensionParameters, type RTCPeerConnection } from "werift";
import type { Logger } from "../logger.js";
import type { MediaTransport } from "../media/MediaTransport.js";
import { releaseTransceiver, slimForwardingTransceiver } from "../werift/transceiver.js";
import type { AudioForwarder } from "./AudioForwarder.js";
import { ForwardedTrack } from "./ForwardedTrack.js";
import type { PeerControls } from "./PeerControls.js";

export interface PeerSubscriptionsOptions {
  pc: RTCPeerConnection;
  /** The receiving peer's media transport, handed to every forwarded track. */
  media: MediaTransport;
  /** The receiving peer's mute and deafen state, read by every forwarded track. */
  controls: PeerControls;
  /** The SFU's side changed: an offer must follow. */
  requestNegotiation: () => void;
  logger: Logger;
}

/**
 * The other participants' tracks forwarded to one peer: a sendonly
 * transceiver and a {@link ForwardedTrack} per source. Until the client's
 * first offer is answered sources only queue ("waiting"): werift could
 * otherwise pair the client's own m-line with a forwarding transceiver.
 */
export class PeerSubscriptions {
  readonly #options: PeerSubscriptionsOptions;
  /** By source track id; the source is kept so that closing can take the track off it. */
  readonly #forwarding = new Map<string, { source: AudioForwarder; track: ForwardedTrack }>();
  /** Sources to forward once the client's first offer is answered. */
  readonly #waiting = new Map<string, AudioForwarder>();
  #state: "waiting" | "forwarding" | "closed" = "waiting";

  constructor(options: PeerSubscriptionsOptions) {
    this.#options = options;
  }

  get size(): number {
    return this.#forwarding.size;
  }

  /** The client's first offer is answered: forward every source that queued meanwhile. */
  start(): void {
    if (this.#state !== "waiting") return;
    this.#state = "forwarding";
    for (const source of this.#waiting.values()) this.#add(source);
    this.#waiting.clear();
  }

  /** Starts forwarding another participant's track to this peer. */
  subscribe(source: AudioForwarder): void {
    if (this.#state === "closed" || this.#forwarding.has(source.id) || source.closed) return;
    if (this.#state === "forwarding") this.#add(source);
    else this.#waiting.set(source.id, source);
  }

  /** Stops forwarding a track to this peer; its m-line is renegotiated away. */
  unsubscribe(source: AudioForwarder): void {
    this.#waiting.delete(source.id);
    const subscription = this.#forwarding.get(source.id);
    if (!subscription) return;
    this.#forwarding.delete(source.id);
    stop(subscription);
    if (this.#state !== "closed") this.#options.requestNegotiation();
  }

  /** Stops every forwarded track; idempotent. */
  close(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    // Sources outlive this peer: a track left in their subscriber set would keep the whole peer alive.
    for (const subscription of this.#forwarding.values()) stop(subscription);
    this.#forwarding.clear();
    this.#waiting.clear();
  }

  #add(source: AudioForwarder): void {
    if (source.closed) return;
    const { pc, media, controls, logger } = this.#options;
    const transceiver = pc.addTransceiver("audio", {
      direction: "sendonly",
      streams: [new MediaStream({ id: source.peerId })],
    });
    // A room of N holds N² of these: drop the werift state the forwarding path never uses.
    slimForwardingTransceiver(transceiver);
    // One BUNDLE transport needs one extension-id map: reuse the ids the client chose.
    const negotiated = this.#negotiatedExtensions();
    if (negotiated.length > 0) transceiver.headerExtensions = negotiated;
    const track = new ForwardedTrack({
      sourceTrackId: source.id,
      sourcePeerId: source.peerId,
      transceiver,
      transport: media,
      receiver: controls,
      logger,
    });
    this.#forwarding.set(source.id, { source, track });
    source.addSubscriber(track);
    this.#options.requestNegotiation();
  }

  #negotiatedExtensions(): RTCRtpHeaderExtensionParameters[] {
    const first = this.#options.pc
      .getTransceivers()
      .find((t) => t.kind === "audio" && t.mid !== null && t.headerExtensions.length > 0);
    return first
      ? first.headerExtensions.map((e) => new RTCRtpHeaderExtensionParameters({ id: e.id, uri: e.uri }))
      : [];
  }
}

function stop({ source, track }: { source: AudioForwarder; track: ForwardedTrack }): void {
  source.removeSubscriber(track);
  releaseTransceiver(track.transceiver);
  track.close();
}
