/**
 * DTLS behaviour of werift's peer connection that the SFU corrects. Every
 * member read or written here is named with the werift version it was read
 * from (version.ts); test/werift/internals.test.ts fails, naming the member,
 * when an upgrade moves one.
 */
import type { DtlsSocket, RTCPeerConnection } from "werift";

/** Past every flight number of a DTLS 1.2 handshake (1–6). */
const HANDSHAKE_OVER = Number.MAX_SAFE_INTEGER;

/**
 * Ends the DTLS handshakes still under way on `pc`; call before closing it.
 * werift 0.25.2 retransmits a flight (`Flight.transmit`) up to 10 times over
 * 33 s until the peer's next flight arrives, and starts a client's handshake
 * 100 ms after its transport starts (`RTCDtlsTransport.start`); neither
 * closing the connection nor stopping its DTLS transport ends either, so a
 * connection closed in those first moments stayed reachable from its timers
 * for half a minute. A flight's loop stops at its next wake-up (at most
 * 5.5 s later) once the handshake's flight counter (`DtlsContext.flight`)
 * is past the awaited one, and a handshake not begun yet does not begin.
 */
export function endDtlsHandshakes(pc: RTCPeerConnection): void {
  // Stopped transceivers' transports too: werift 0.25.2 closes those as well (`allDtlsTransports`).
  const transports = new Set([...pc.dtlsTransports, ...pc.getTransceivers().map((t) => t.dtlsTransport)]);
  for (const transport of transports) {
    // werift 0.25.2 `RTCDtlsTransport.dtls` (set once the transport starts) and `DtlsSocket.dtls.flight`.
    const socket: (DtlsSocket & { connect?: () => Promise<void> }) | undefined = transport?.dtls;
    if (!socket || transport?.state === "connected") continue;
    socket.dtls.flight = HANDSHAKE_OVER;
    // werift 0.25.2 `DtlsClient.connect`: sends the first flight; an own property shadows it.
    if (typeof socket.connect === "function") socket.connect = () => Promise.resolve();
  }
}
