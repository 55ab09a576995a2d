import { SfuError } from "../../lib/errors.js";
import type { PeerSession } from "../../lib/sfu/Sfu.js";
import type { ClientSession } from "./ClientSession.js";
import type { AckData } from "./events.js";
import type { PayloadValidator } from "./validate.js";

/** Offer/answer and trickle ICE between a client and its peer connection on the SFU. */
export class NegotiationController {
  readonly #validator: PayloadValidator;

  constructor(options: { validator: PayloadValidator }) {
    this.#validator = options.validator;
  }

  /** Answers the client's offer; the answer goes out as the `answer` event before the ack. */
  async offer(session: ClientSession, payload: unknown): Promise<AckData["offer"]> {
    const offer = this.#validator.offer(payload);
    const peer = joinedPeer(session);
    const answer = await peer.handleOffer(offer);
    if (session.peer === peer) session.socket.emit("answer", answer);
    return {};
  }

  async answer(session: ClientSession, payload: unknown): Promise<AckData["answer"]> {
    const answer = this.#validator.answer(payload);
    await joinedPeer(session).handleAnswer(answer);
    return {};
  }

  async iceCandidate(session: ClientSession, payload: unknown): Promise<AckData["ice-candidate"]> {
    const candidate = this.#validator.iceCandidate(payload);
    await joinedPeer(session).addIceCandidate(candidate);
    return {};
  }
}

function joinedPeer(session: ClientSession): PeerSession {
  const peer = session.peer;
  if (!peer || peer.closed) throw new SfuError("NOT_JOINED", "join a room first");
  return peer;
}
