import {
  classes,
  isStunMessage,
  parseMessage,
  type Address,
  type DtlsSocket,
  type Message,
  type Protocol,
  type RTCPeerConnection,
} from "werift";
import type { Logger } from "../logger.js";
import { dtlsTransportOf, filterIceSocket, watchIceSockets, type IceSocket } from "../werift/iceSockets.js";
import { localIcePassword } from "../werift/ice.js";

/** What a datagram is, as far as the STUN credential check goes. */
export type StunVerdict = "authentic-request" | "forged-request" | "not-a-request";

/**
 * Classifies a datagram: a STUN request whose USERNAME starts with one of our
 * ufrags and whose MESSAGE-INTEGRITY verifies with that ufrag's password
 * (RFC 8445 §7.2.2, short-term credentials) is authentic; any other STUN
 * request is forged. Responses, indications and non-STUN data are not requests.
 */
export function checkStunRequest(
  data: Buffer,
  passwordFor: (ufrag: string) => string | undefined,
): StunVerdict {
  if (!isStunMessage(data)) return "not-a-request";
  try {
    const message = parseMessage(data);
    if (!message || message.messageClass !== classes.REQUEST) return "not-a-request";
    const password = passwordFor(localUfrag(message) ?? "");
    if (password === undefined) return "forged-request";
    return parseMessage(data, Buffer.from(password, "utf8")) ? "authentic-request" : "forged-request";
  } catch {
    // Runs on werift's socket callback, where a throw would be uncaught.
    return "forged-request";
  }
}

/** The local ufrag a STUN request names (USERNAME "ours:theirs"), or undefined for anything else. */
export function stunRequestUfrag(data: Buffer): string | undefined {
  if (!isStunMessage(data)) return undefined;
  try {
    const message = parseMessage(data);
    return message?.messageClass === classes.REQUEST ? localUfrag(message) : undefined;
  } catch {
    return undefined;
  }
}

/** More extension elements than RFC 8285 one-byte ids exist (1-14), with room for padding quirks. */
const MAX_RTP_EXTENSIONS = 16;

/**
 * False for an RTP packet (RFC 7983: first byte 128-191; not RTCP by
 * werift's reckoning) whose CSRC list or header extension runs past the datagram, or whose
 * extension block holds more than {@link MAX_RTP_EXTENSIONS} elements;
 * true for everything else. The header is in the clear under SRTP, so this
 * holds for encrypted packets too.
 */
export function isSafeRtp(data: Buffer): boolean {
  const first = data[0];
  if (first === undefined || first >> 6 !== 2 || data.length < 2) return true;
  // werift's own split (rtp isRtcp): second byte 192-208 is RTCP, anything else is parsed as RTP.
  if (data[1]! >= 192 && data[1]! <= 208) return true;
  const extensionAt = 12 + 4 * (first & 0x0f);
  if (extensionAt > data.length) return false;
  if ((first & 0x10) === 0) return true;
  if (extensionAt + 4 > data.length) return false;
  const profile = data.readUInt16BE(extensionAt);
  const start = extensionAt + 4;
  const end = start + 4 * data.readUInt16BE(extensionAt + 2);
  if (end > data.length) return false;
  const twoByte = (profile & 0xfff0) === 0x1000;
  if (profile !== 0xbede && !twoByte) return true; // werift takes other profiles as one opaque block
  let elements = 0;
  for (let i = start; i < end;) {
    const id = data[i]!;
    if (id === 0) {
      i++;
      continue;
    }
    if (!twoByte && id >> 4 === 15) break;
    if (++elements > MAX_RTP_EXTENSIONS) return false;
    i += twoByte ? 2 + (data[i + 1] ?? 0) : 2 + (id & 0x0f);
  }
  return true;
}

/** DTLS 1.2 record header (RFC 6347 §4.1): type, version, epoch, sequence number, length. */
const DTLS_HEADER = 13;
/** The record types werift handles; it takes any other as an alert and closes the session. */
const DTLS_CHANGE_CIPHER_SPEC = 20;
const DTLS_ALERT = 21;
const DTLS_APPLICATION_DATA = 23;
const DTLS_HANDSHAKE = 22;
/** Handshake type HelloVerifyRequest (RFC 6347 §4.2.1), and werift's client flight that answered one. */
const HELLO_VERIFY_REQUEST = 3;
const CLIENT_COOKIE_FLIGHT = 3;

/**
 * False for a DTLS datagram (RFC 7983: first byte 20-63) that werift must not
 * see: records that overrun the datagram (werift parses them outside its own
 * error handling), unknown record types (it closes the session on them) and,
 * once the handshake is done (`dtls.connected`), anything in epoch 0 (a new
 * ClientHello restarts werift's session; every genuine record is encrypted
 * by then) and any alert that does not decrypt with the session's keys
 * (werift closes the session on a plaintext close_notify in any epoch).
 * Also a HelloVerifyRequest once the cookie was answered: a client whose
 * peer was slow retransmits its ClientHello and gets a second one, on which
 * werift 0.25's DTLS client fails the handshake (Flight3.exec throws).
 * Everything else, and every non-DTLS datagram, is true.
 */
export function isSafeDtls(data: Buffer, dtls: DtlsSocket | undefined): boolean {
  if (!isDtls(data)) return true;
  const connected = dtls?.connected === true;
  for (let at = 0; at < data.length;) {
    if (data.length - at < DTLS_HEADER) return false;
    const type = data[at]!;
    const epoch = data.readUInt16BE(at + 3);
    const end = at + DTLS_HEADER + data.readUInt16BE(at + 11);
    if (end > data.length || type < DTLS_CHANGE_CIPHER_SPEC || type > DTLS_APPLICATION_DATA) return false;
    if (connected && (epoch === 0 || (type === DTLS_ALERT && !decrypts(dtls, data, at, end)))) return false;
    if (
      type === DTLS_HANDSHAKE &&
      epoch === 0 &&
      data[at + DTLS_HEADER] === HELLO_VERIFY_REQUEST &&
      cookieSent(dtls)
    )
      return false;
    at = end;
  }
  return true;
}

/** Whether werift's DTLS client already answered a HelloVerifyRequest (its flight 3: the ClientHello with the cookie). */
function cookieSent(dtls: DtlsSocket | undefined): boolean {
  return dtls !== undefined && dtls.dtls.flight >= CLIENT_COOKIE_FLIGHT;
}

/** RFC 7983: a datagram whose first byte is 20-63 is DTLS. */
function isDtls(data: Buffer): boolean {
  const first = data[0];
  return first !== undefined && first >= 20 && first <= 63;
}

/** Whether the record data[at, end) authenticates under the session's keys (werift's DTLS ciphers are all AEAD). */
function decrypts(dtls: DtlsSocket, data: Buffer, at: number, end: number): boolean {
  try {
    dtls.cipher.decryptPacket({
      recordLayerHeader: {
        contentType: data[at]!,
        protocolVersion: { major: data[at + 1]!, minor: data[at + 2]! },
        epoch: data.readUInt16BE(at + 3),
        sequenceNumber: data.readUIntBE(at + 5, 6),
        contentLen: end - at - DTLS_HEADER,
      },
      fragment: data.subarray(at + DTLS_HEADER, end),
    } as Parameters<DtlsSocket["cipher"]["decryptPacket"]>[0]);
    return true;
  } catch {
    return false;
  }
}

/** Remote addresses remembered per ICE socket; a client has a handful, an attacker cannot add any. */
export const MAX_KNOWN_SOURCES = 8;

/**
 * Checks every datagram on a peer's ICE sockets before werift sees it.
 * werift trusts its sockets: it answers any STUN binding request, hands
 * every other datagram from any address to DTLS and SRTP, and there a
 * single forged packet does damage (a plaintext alert or an unknown record
 * type closes the DTLS session, a ClientHello restarts it, an RTP header
 * extension whose length runs past the packet holds the event loop for
 * minutes because it is parsed before SRTP authentication). So:
 *
 * - a STUN request must carry our ICE credentials; its source address then
 *   becomes a known source of this socket;
 * - STUN responses and indications go to werift, which matches responses
 *   to its own transactions and checks their integrity;
 * - everything else (DTLS, SRTP, SRTCP) must come from a known source, RTP
 *   must have a header werift can parse safely (the client is not trusted
 *   with that either), and DTLS must be well framed and, once the handshake
 *   is done, encrypted ({@link isSafeDtls}): a known source can be spoofed.
 *
 * werift's `iceFilterStunResponse` hook cannot do this: it runs after role
 * conflicts are handled (a 487 reply, or a role switch), sees only the parsed
 * message (re-serialising moves unknown attributes such as Chrome's
 * GOOG-NETWORK-INFO, so MESSAGE-INTEGRITY cannot be checked there) and never
 * sees non-STUN data. It is kept as a second line ({@link filter}) that checks
 * the ufrag, should werift's internals change.
 */
export class DatagramGuard {
  readonly #pc: () => RTCPeerConnection;
  readonly #logger: Logger;
  readonly #connections = new WeakSet<object>();
  readonly #sockets = new WeakSet<IceSocket>();
  readonly #passwordFor = (ufrag: string) => this.#lookupPassword(ufrag);
  #dropped = 0;
  #reportedMissing = false;

  /** `pc` is a getter: the guard is created before the connection whose config carries {@link filter}. */
  constructor(options: { pc: () => RTCPeerConnection; logger: Logger }) {
    this.#pc = options.pc;
    this.#logger = options.logger;
  }

  /** Datagrams dropped so far. */
  get dropped(): number {
    return this.#dropped;
  }

  /** werift's `iceFilterStunResponse`: answer only requests whose USERNAME names one of our ufrags. */
  readonly filter = (message: Message, _addr: unknown, protocol: Protocol): boolean => {
    // A socket that escaped protect() is guarded from its next datagram on.
    this.#guardSocket(protocol);
    const ufrag = localUfrag(message);
    if (ufrag !== undefined && this.#lookupPassword(ufrag) !== undefined) return true;
    this.#dropped++;
    return false;
  };

  /**
   * Guards every ICE socket of the connection, present and future. Call it
   * whenever gathering may start (werift opens sockets when it gathers);
   * repeated calls are cheap.
   */
  protect(): void {
    for (const transport of this.#pc().iceTransports) {
      const connection = transport.connection;
      if (this.#connections.has(connection)) continue;
      const missing = watchIceSockets(connection, (socket) => this.#guardSocket(socket));
      if (missing) {
        this.#reportMissing(missing);
        continue;
      }
      this.#connections.add(connection);
    }
  }

  #guardSocket(socket: IceSocket): void {
    if (this.#sockets.has(socket)) return;
    const sources: Address[] = [];
    const missing = filterIceSocket(socket, (data, addr) => {
      if (this.#admit(data, addr, sources, socket)) return true;
      this.#dropped++;
      return false;
    });
    if (missing) this.#reportMissing(missing);
    else this.#sockets.add(socket);
  }

  /**
   * Per datagram. Media takes the branch that allocates nothing: a scan of
   * at most {@link MAX_KNOWN_SOURCES} addresses and a look at the RTP header.
   */
  #admit(data: Buffer, addr: Address, sources: Address[], socket: IceSocket): boolean {
    if (isStunMessage(data)) {
      const verdict = checkStunRequest(data, this.#passwordFor);
      if (verdict === "forged-request") return false;
      if (verdict === "authentic-request") rememberSource(sources, addr);
      return true;
    }
    if (!isKnown(sources, addr)) return false;
    return isDtls(data) ? isSafeDtls(data, dtlsTransportOf(this.#pc(), socket)?.dtls) : isSafeRtp(data);
  }

  #lookupPassword(ufrag: string): string | undefined {
    return localIcePassword(this.#pc(), ufrag);
  }

  #reportMissing(what: string): void {
    if (this.#reportedMissing) return;
    this.#reportedMissing = true;
    this.#logger.error("werift internals changed: datagrams reach werift unchecked", { missing: what });
  }
}

function isKnown(sources: readonly Address[], addr: Address): boolean {
  return indexOfSource(sources, addr) >= 0;
}

function indexOfSource(sources: readonly Address[], addr: Address): number {
  for (let i = 0; i < sources.length; i++) {
    const source = sources[i]!;
    if (source[1] === addr[1] && source[0] === addr[0]) return i;
  }
  return -1;
}

/**
 * Records `addr` as the most recent known source of a socket; the least
 * recently checked one goes when the list is full. A client's live pair
 * passes a check every few seconds (consent), so it stays however many
 * other addresses it has tried.
 */
export function rememberSource(sources: Address[], addr: Address): void {
  const index = indexOfSource(sources, addr);
  if (index >= 0) sources.splice(index, 1);
  else if (sources.length >= MAX_KNOWN_SOURCES) sources.shift();
  sources.push([addr[0], addr[1]]);
}

/** Our ufrag: the part of the request's USERNAME ("ours:theirs") before the colon. */
function localUfrag(message: Message): string | undefined {
  const username: unknown = message.getAttributeValue("USERNAME");
  if (typeof username !== "string") return undefined;
  const colon = username.indexOf(":");
  return colon > 0 ? username.slice(0, colon) : undefined;
}
