import type { RTCRtpTransceiver } from "werift";

export const AUDIO_LEVEL_URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level";
export const SDES_MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid";

/** The negotiated id of a header extension on a transceiver, if any. */
export function extensionId(transceiver: RTCRtpTransceiver, uri: string): number | undefined {
  return transceiver.headerExtensions.find((e) => e.uri === uri)?.id;
}

/** Adds `delta` to a 16-bit RTP sequence number, wrapping. */
export function seqAdd(seq: number, delta: number): number {
  return (seq + delta) & 0xffff;
}

/** Adds `delta` to a 32-bit RTP timestamp, wrapping. */
export function tsAdd(ts: number, delta: number): number {
  return (ts + delta) >>> 0;
}
