import {
  classes,
  isStunMessage,
  parseMessage,
  type Message,
  type Protocol,
  type RTCPeerConnection,
} from "werift";
import type { Logger } from "../logger.js";

/** The ICE credentials werift keeps on each connection: the current pair and those of earlier generations. */
export interface IceCredentials {
  localUsername: string;
  localPassword: string;
  /** ufrag → password of every generation since the last ICE restart began (werift's `userHistory`). */
  userHistory?: Record<string, string>;
}

/**
 * werift internals the guard wraps. They are private in werift's typings, so
 * their presence is checked at run time and a missing one is reported once
 * (test/hardening/stunGuard.test.ts fails on a werift upgrade that drops them).
 */
interface ConnectionInternals extends IceCredentials {
  ensureProtocol?: (protocol: object) => void;
  protocols?: object[];
}
interface ProtocolInternals {
  datagramReceived?: (data: Buffer, addr: unknown) => void;
}

/**
 * True when `data` is a STUN request whose USERNAME starts with one of our
 * ufrags and whose MESSAGE-INTEGRITY verifies with that ufrag's password
 * (RFC 8445 §7.3, short-term credentials). Anything that is not a STUN
 * request is outside this check and also returns true.
 */
export function isAuthenticStunRequest(
  data: Buffer,
  passwordFor: (ufrag: string) => string | undefined,
): boolean {
  if (!isStunMessage(data)) return true;
  try {
    const message = parseMessage(data);
    if (!message || message.messageClass !== classes.REQUEST) return true;
    const password = passwordFor(localUfrag(message) ?? "");
    if (password === undefined) return false;
    return parseMessage(data, Buffer.from(password, "utf8")) !== undefined;
  } catch {
    // Runs on werift's socket callback, where a throw would be uncaught: a datagram that breaks the parser is dropped.
    return false;
  }
}

/**
 * Keeps werift from answering STUN requests that do not carry our ICE
 * credentials. werift answers any binding request, and handles role
 * conflicts (a 487 reply, or switching its role) before its
 * `iceFilterStunResponse` hook runs; that hook also sees only the parsed
 * message, and re-serialising it moves unknown attributes (Chrome's
 * GOOG-NETWORK-INFO) so MESSAGE-INTEGRITY cannot be checked there. So the
 * guard checks the raw datagram on each ICE socket before werift parses it,
 * and the hook ({@link filter}) is kept as a second line that checks the ufrag.
 */
export class StunGuard {
  readonly #pc: () => RTCPeerConnection;
  readonly #logger: Logger;
  readonly #connections = new WeakSet<object>();
  readonly #protocols = new WeakSet<object>();
  #dropped = 0;
  #reportedMissing = false;

  /** `pc` is a getter: the guard is created before the connection whose config carries {@link filter}. */
  constructor(options: { pc: () => RTCPeerConnection; logger: Logger }) {
    this.#pc = options.pc;
    this.#logger = options.logger;
  }

  /** STUN requests dropped for lacking our credentials. */
  get dropped(): number {
    return this.#dropped;
  }

  /** werift's `iceFilterStunResponse`: answer only requests whose USERNAME names one of our ufrags. */
  readonly filter = (message: Message, _addr: unknown, protocol: Protocol): boolean => {
    // A socket that escaped protect() is guarded from its next datagram on.
    this.#guardProtocol(protocol);
    const ufrag = localUfrag(message);
    if (ufrag !== undefined && this.#passwordFor(ufrag) !== undefined) return true;
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
      const connection = transport.connection as unknown as ConnectionInternals;
      if (this.#connections.has(connection)) continue;
      const ensureProtocol = connection.ensureProtocol;
      if (typeof ensureProtocol !== "function" || !Array.isArray(connection.protocols)) {
        this.#reportMissing("Connection.ensureProtocol");
        continue;
      }
      this.#connections.add(connection);
      connection.ensureProtocol = (protocol: object) => {
        this.#guardProtocol(protocol);
        ensureProtocol.call(connection, protocol);
      };
      for (const protocol of connection.protocols) this.#guardProtocol(protocol);
    }
  }

  #guardProtocol(protocol: object): void {
    if (this.#protocols.has(protocol)) return;
    const internals = protocol as ProtocolInternals;
    const receive = internals.datagramReceived;
    if (typeof receive !== "function") {
      this.#reportMissing("StunProtocol.datagramReceived");
      return;
    }
    this.#protocols.add(protocol);
    const passwordFor = (ufrag: string) => this.#passwordFor(ufrag);
    // Per datagram: RTP/RTCP/DTLS fail isStunMessage on their first byte, before any allocation.
    internals.datagramReceived = (data: Buffer, addr: unknown) => {
      if (!isAuthenticStunRequest(data, passwordFor)) {
        this.#dropped++;
        return;
      }
      receive.call(protocol, data, addr);
    };
  }

  #passwordFor(ufrag: string): string | undefined {
    for (const transport of this.#pc().iceTransports) {
      const connection = transport.connection as unknown as IceCredentials;
      if (ufrag === connection.localUsername) return connection.localPassword;
      // Own keys only: a USERNAME of "constructor:x" must not find Object.prototype members.
      const history = connection.userHistory;
      if (history && Object.hasOwn(history, ufrag) && typeof history[ufrag] === "string")
        return history[ufrag];
    }
    return undefined;
  }

  #reportMissing(what: string): void {
    if (this.#reportedMissing) return;
    this.#reportedMissing = true;
    this.#logger.error("werift internals changed: STUN requests are checked by ufrag only", {
      missing: what,
    });
  }
}

/** Our ufrag: the part of the request's USERNAME ("ours:theirs") before the colon. */
function localUfrag(message: Message): string | undefined {
  const username: unknown = message.getAttributeValue("USERNAME");
  if (typeof username !== "string") return undefined;
  const colon = username.indexOf(":");
  return colon > 0 ? username.slice(0, colon) : undefined;
}
