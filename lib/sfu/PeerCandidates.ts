import type { RTCPeerConnection } from "werift";
import { BadRequestError, SfuError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { IceCandidate } from "../protocol.js";
import { bundleMid, iceUfrag, isPrivateAddress, parseCandidate } from "./candidate.js";

export interface PeerCandidatesOptions {
  pc: RTCPeerConnection;
  /** Remote candidates accepted per ICE generation. */
  maxIceCandidates: number;
  allowPrivateCandidates: boolean;
  logger: Logger;
}

/**
 * A peer's trickled client candidates: checked, counted per ICE generation,
 * and held while a client offer is being applied (they may belong to the new
 * generation it brings) or before any remote description exists. Everything
 * is bundled on one ICE transport, so a candidate's sdpMid, sdpMLineIndex and
 * usernameFragment are not needed: it goes to the bundle transport, like Pion
 * does.
 */
export class PeerCandidates {
  readonly #pc: RTCPeerConnection;
  readonly #options: PeerCandidatesOptions;
  readonly #logger: Logger;
  /** Remote candidates of the current ICE generation (the client's current ufrag). */
  #count = 0;
  #remoteUfrag: string | undefined;
  /** Client offers being applied: candidates wait for them, as they may belong to a new ICE generation. */
  #offersInFlight = 0;
  readonly #held: string[] = [];
  /**
   * The mid trickled candidates go to, undefined while no remote description
   * is applied: read after each negotiation step, as werift serialises the
   * whole description on every read.
   */
  #bundleMid: string | undefined;
  #hasRemoteDescription = false;
  #closed = false;

  constructor(options: PeerCandidatesOptions) {
    this.#pc = options.pc;
    this.#options = options;
    this.#logger = options.logger;
  }

  /** A client offer is about to be applied; candidates wait until {@link offerApplied}. */
  applyingOffer(sdp: string): void {
    // A new remote ufrag is a new ICE generation (an ICE restart): its candidates are counted afresh.
    const ufrag = iceUfrag(sdp);
    if (ufrag !== this.#remoteUfrag) {
      this.#remoteUfrag = ufrag;
      this.#count = 0;
    }
    this.#offersInFlight++;
  }

  /** The client offer is applied (or failed): held candidates go on once no other offer is in flight. */
  offerApplied(): void {
    this.#offersInFlight--;
    this.descriptionChanged();
    this.#release();
  }

  /** A negotiation step may have changed the remote description. */
  descriptionChanged(): void {
    if (this.#closed) return;
    const remote = this.#pc.remoteDescription;
    this.#hasRemoteDescription = remote !== undefined;
    this.#bundleMid = remote ? bundleMid(remote.sdp) : undefined;
  }

  /** Adds a trickled client candidate; `""` marks end-of-candidates. */
  async add(candidate: IceCandidate): Promise<void> {
    if (candidate.candidate === "") return;
    const parsed = parseCandidate(candidate.candidate);
    if (++this.#count > this.#options.maxIceCandidates) {
      throw new SfuError("RATE_LIMITED", "too many ICE candidates for this ICE generation");
    }
    if (!this.#options.allowPrivateCandidates && isPrivateAddress(parsed.address)) {
      this.#logger.debug("ignoring a private candidate", { address: parsed.address });
      return;
    }
    // The SFU only gathers UDP; a TCP candidate could never pair.
    if (parsed.transport !== "udp") return;
    if (this.#offersInFlight > 0 || !this.#hasRemoteDescription) {
      this.#held.push(candidate.candidate);
      return;
    }
    await this.#apply(candidate.candidate);
  }

  close(): void {
    this.#closed = true;
    this.#held.length = 0;
  }

  async #apply(line: string): Promise<void> {
    const sdpMid = this.#bundleMid;
    if (sdpMid === undefined) throw new BadRequestError("the session has no media section for a candidate");
    try {
      await this.#pc.addIceCandidate({ candidate: line, sdpMid });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new BadRequestError(`the candidate could not be added: ${reason}`, { cause: error });
    }
  }

  #release(): void {
    if (this.#offersInFlight > 0 || this.#closed || !this.#hasRemoteDescription) return;
    for (const line of this.#held.splice(0)) {
      this.#apply(line).catch((error: unknown) => this.#logger.debug("dropping a held candidate", { error }));
    }
  }
}
