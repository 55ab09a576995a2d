import { ReplayWindow } from "./ReplayWindow.js";
import { RolloverCounter } from "./RolloverCounter.js";
import { createKeystreamCache, type KeystreamCache, type SrtpContext } from "./SrtpContext.js";

/**
 * What SRTP keeps per inbound SSRC under one set of keys (RFC 3711 §3.2.3):
 * the rollover counter, the replay window, and keystream made ahead for the
 * next packets. It belongs to the transport's SRTP session, not to a receive
 * stream: the sender's packet index carries on when a publisher stops and
 * resumes sending on the same SSRC, so a stream opened again continues from
 * here, as libsrtp keeps its per-SSRC state for the life of the session.
 */
export class SrtpReceiveState {
  readonly context: SrtpContext;
  readonly rollover: RolloverCounter;
  readonly replay = new ReplayWindow();
  readonly keystream: KeystreamCache = createKeystreamCache();

  /** `initial` continues a stream werift decrypted before the SFU's path took it over. */
  constructor(context: SrtpContext, initial?: { roc: number; highestSeq: number }) {
    this.context = context;
    this.rollover = new RolloverCounter(initial);
  }
}
