/**
 * ICE behaviour of werift's peer connection that the SFU corrects. Every
 * member read or written here is named with the werift version it was read
 * from (version.ts); test/werift/internals.test.ts fails, naming
 * the member, when an upgrade moves one.
 */
import type { IceConnection, RTCPeerConnection } from "werift";

/** werift's per-connection ICE state beyond its `IceConnection` typing. */
interface ConnectionInternals {
  /** ufrag → password of earlier ICE generations (werift 0.25.2 `Connection.userHistory`). */
  userHistory?: Record<string, string>;
}

/**
 * Keeps the SFU the controlled ICE agent. The client always offers first, so
 * the SFU is controlled for the life of the connection; werift re-derives
 * the role from every local description (0.25.2
 * `SecureTransportManager.setLocalRole`: an offer makes it controlling, as
 * the browser still is), which stalls checks that are still running. Call
 * after every setLocalDescription.
 */
export function pinControlledRole(pc: RTCPeerConnection): void {
  pinIceRole(pc, false);
}

/**
 * The client side of pinControlledRole, for werift peers that offer first
 * (the bench's load clients): they stay the controlling agent, as a browser
 * does, when they answer a server's re-offer. Call after every setLocalDescription.
 */
export function pinControllingRole(pc: RTCPeerConnection): void {
  pinIceRole(pc, true);
}

function pinIceRole(pc: RTCPeerConnection, controlling: boolean): void {
  for (const transport of pc.iceTransports) {
    const connection = transport.connection;
    // werift 0.25.2 `Connection.remoteIsLite`: against an ICE-lite peer the full agent controls (RFC 8445 §6.1.1).
    // werift 0.25.2 `Connection.iceControlling` setter: flips the role of the running agent.
    connection.iceControlling = connection.remoteIsLite ? true : controlling;
  }
}

/**
 * Starts ICE checks on transports whose DTLS is up but whose ICE has no
 * nominated pair: werift 0.25.2 starts checks only for transports whose DTLS
 * is not connected yet (`RTCPeerConnection.connect`), so after an ICE restart
 * (new credentials, DTLS still connected) no check would ever run.
 */
export function restartIceChecks(pc: RTCPeerConnection, onError: (error: unknown) => void): void {
  for (const dtls of pc.dtlsTransports) {
    // werift 0.25.2 `RTCDtlsTransport.iceTransport` and `Connection.nominated`: unset by a restart.
    const ice = dtls.iceTransport;
    if (dtls.state !== "connected" || ice.connection.nominated) continue;
    ice.start().catch(onError);
  }
}

/**
 * Without a STUN server werift 0.25.2 queries stun.l.google.com
 * (`Connection.stunServer` defaults to it) and setLocalDescription waits for
 * the answer: clearing it means no DNS lookup, no packet to Google, no
 * stalled answer. Call before gathering starts.
 */
export function disableDefaultStun(pc: RTCPeerConnection): void {
  for (const transport of pc.iceTransports) transport.connection.stunServer = undefined;
}

/**
 * The local ICE password of `ufrag` on any of the connection's ICE
 * transports, this generation's or an earlier one's (werift 0.25.2 keeps
 * those in `Connection.userHistory` and still answers checks for them).
 */
export function localIcePassword(pc: RTCPeerConnection, ufrag: string): string | undefined {
  for (const transport of pc.iceTransports) {
    const connection: IceConnection & ConnectionInternals = transport.connection;
    if (ufrag === connection.localUsername) return connection.localPassword;
    // Own keys only: a USERNAME of "constructor:x" must not find Object.prototype members.
    const history = connection.userHistory;
    if (history && Object.hasOwn(history, ufrag) && typeof history[ufrag] === "string") return history[ufrag];
  }
  return undefined;
}

/**
 * Every local ufrag of `connection`: this generation's and the earlier ones
 * werift 0.25.2 keeps in `Connection.userHistory` (and still answers checks for).
 */
export function localIceUfrags(connection: IceConnection): string[] {
  const history = (connection as IceConnection & ConnectionInternals).userHistory ?? {};
  const ufrags = Object.keys(history);
  if (!ufrags.includes(connection.localUsername)) ufrags.push(connection.localUsername);
  return ufrags;
}

/** werift 0.25.2 `Connection.checkRequestOptions`: the STUN transaction options of one connectivity check. */
interface CheckRequestOptions {
  retransmissions?: number;
  responseTimeout?: number;
  onRequestSent?: (attempt: number) => void;
}

interface CheckScheduleInternals {
  checkRequestOptions?: (pair: { localCandidate: { transport: string } }) => CheckRequestOptions;
}

/**
 * First wait for a connectivity check's response, in ms, and the
 * retransmissions after it (each wait twice the one before): a pair fails
 * after 100 × (2⁸ − 1) = 25.5 s without an answer, as libwebrtc and Pion
 * keep checking for some 25–40 s (RFC 8445 §14.3: Rc = 7). werift's own
 * schedule (50 ms, 4 retransmissions) gives up after 1.55 s, so a peer or
 * SFU whose event loop is busy for that long loses the pair, and with one
 * host pair on each side, the connection for good.
 */
export const ICE_CHECK_RTO_MS = 100;
export const ICE_CHECK_RETRANSMISSIONS = 7;

/**
 * Gives `pc`'s connectivity checks over UDP the retransmission schedule of
 * {@link ICE_CHECK_RTO_MS} and {@link ICE_CHECK_RETRANSMISSIONS} instead of
 * werift's 1.55 s. Checks over TCP keep werift's (no retransmission on a
 * reliable transport). A closed connection ends its checks' transactions
 * as before. Call before the checks start, e.g. when gathering starts.
 */
export function patientIceChecks(pc: RTCPeerConnection): void {
  for (const transport of pc.iceTransports) {
    const connection = transport.connection as IceConnection & CheckScheduleInternals;
    // werift 0.25.2 `Connection.checkRequestOptions(pair)`: read per check, so an own property replaces it.
    const weriftOptions = connection.checkRequestOptions;
    if (typeof weriftOptions !== "function" || Object.hasOwn(connection, "checkRequestOptions")) continue;
    connection.checkRequestOptions = (pair) => {
      const options = weriftOptions.call(connection, pair);
      if (pair.localCandidate.transport.toLowerCase() === "tcp") return options;
      return { ...options, retransmissions: ICE_CHECK_RETRANSMISSIONS, responseTimeout: ICE_CHECK_RTO_MS };
    };
  }
}
