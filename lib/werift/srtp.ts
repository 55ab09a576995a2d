/**
 * Where werift's own SRTP and datagram path is taken over by lib/media. Each
 * member used here is named with the werift version it was read from;
 * test/werift/internals.test.ts names it if an upgrade moves it.
 */
import type { IceConnection, SrtpSession } from "werift";

/**
 * Puts `take` in front of werift's handling of the data (DTLS, SRTP, SRTCP)
 * an ICE connection receives: a datagram it takes never reaches werift.
 * werift 0.25.2 delivers every datagram with `connection.onData.execute(data)`
 * looked up per call, and its DTLS and SRTP layers listen there, so replacing
 * `execute` is the one place to stand. Returns a function that restores
 * werift's handler.
 */
export function interceptIceData(connection: IceConnection, take: (data: Buffer) => boolean): () => void {
  const event = connection.onData;
  const werift = event.execute;
  const ours = (data: Buffer): void => {
    if (!take(data)) werift(data);
  };
  event.execute = ours;
  return () => {
    if (event.execute === ours) event.execute = werift;
  };
}

/** werift 0.25.2 `SrtpContext.srtpSSRCStates[ssrc]`: the SRTP index state werift's decryption reached. */
interface WeriftSsrcState {
  rolloverCounter: number;
  lastSequenceNumber: number;
}

/**
 * How far werift's SRTP context got with `ssrc` before the SFU took the
 * stream over: its rollover counter and highest sequence number, so the
 * SFU's own decryption continues the same packet index (RFC 3711 §3.3.1).
 * Read from werift 0.25.2 `session.remoteContext.srtpSSRCStates`.
 */
export function srtpStreamState(
  session: SrtpSession | undefined,
  ssrc: number,
): { roc: number; highestSeq: number } | undefined {
  const states = session?.remoteContext.srtpSSRCStates as
    Record<number, WeriftSsrcState | undefined> | undefined;
  const state = states?.[ssrc];
  return state ? { roc: state.rolloverCounter, highestSeq: state.lastSequenceNumber } : undefined;
}
