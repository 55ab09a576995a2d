/**
 * A hook in front of werift's ICE sockets: the one place the SFU sees every
 * datagram a peer connection receives before werift does. werift 0.25.2
 * offers none (its `iceFilterStunResponse` option sees parsed STUN only), so
 * two private members are wrapped; test/werift/internals.test.ts names them
 * if an upgrade moves them.
 */
import {
  StunOverTurnProtocol,
  StunProtocol,
  type Address,
  type IceConnection,
  type RTCDtlsTransport,
  type RTCPeerConnection,
  type Transport,
} from "werift";

/** One of werift's ICE sockets (a `StunProtocol`, or a TURN or TCP protocol); opaque to the SFU. */
export type IceSocket = object;

/** Decides, per datagram, whether werift gets to see it. Runs on werift's socket callback: must not throw. */
export type DatagramFilter = (data: Buffer, addr: Address) => boolean;

interface ConnectionInternals {
  /** werift 0.25.2 `Connection.ensureProtocol`: registers every socket the agent opens (gathering, TURN, TCP). */
  ensureProtocol?: (protocol: IceSocket) => void;
  /** werift 0.25.2 `Connection.protocols`: the sockets registered so far. */
  protocols?: IceSocket[];
}

interface SocketInternals {
  /** werift 0.25.2 `StunProtocol.datagramReceived`: the socket's "message" handler calls it per datagram. */
  datagramReceived?: (data: Buffer, addr: Address) => void;
  /**
   * werift 0.25.2 `StunOverTurnProtocol.handleStunMessage`: a relayed socket (relay-only mode) gets
   * what the TURN server relays here, unwrapped, with the peer's address.
   */
  handleStunMessage?: (data: Buffer, addr: Address) => void;
  /** werift 0.25.2 `StunProtocol.connectionMade`: opens the socket's own UdpTransport, before any candidate exists. */
  connectionMade?: (useIpv4: boolean) => Promise<void>;
  /** werift 0.25.2 `StunProtocol.transport`: every send and address lookup of the socket goes through it. */
  transport?: Transport;
}

/** The member every datagram from the remote passes through, by the socket's kind. */
function receiveMember(socket: IceSocket): "datagramReceived" | "handleStunMessage" {
  return socket instanceof StunOverTurnProtocol ? "handleStunMessage" : "datagramReceived";
}

/**
 * Calls `onSocket` for every ICE socket `connection` has and will open.
 * Returns the name of the werift member that is missing, or undefined when
 * the hook is in place.
 */
export function watchIceSockets(
  connection: IceConnection,
  onSocket: (socket: IceSocket) => void,
): string | undefined {
  const internals = connection as IceConnection & ConnectionInternals;
  const ensureProtocol = internals.ensureProtocol;
  if (typeof ensureProtocol !== "function") return "Connection.ensureProtocol";
  if (!Array.isArray(internals.protocols)) return "Connection.protocols";
  internals.ensureProtocol = (protocol: IceSocket) => {
    onSocket(protocol);
    ensureProtocol.call(connection, protocol);
  };
  for (const protocol of internals.protocols) onSocket(protocol);
  return undefined;
}

/**
 * Puts `filter` in front of werift's handling of every datagram `socket`
 * receives: a datagram it refuses never reaches werift. Returns the name of
 * the werift member that is missing, or undefined when the filter is in place.
 */
export function filterIceSocket(socket: IceSocket, filter: DatagramFilter): string | undefined {
  const member = receiveMember(socket);
  const internals = socket as SocketInternals;
  const receive = internals[member];
  if (typeof receive !== "function") {
    return member === "handleStunMessage"
      ? "StunOverTurnProtocol.handleStunMessage"
      : "StunProtocol.datagramReceived";
  }
  internals[member] = (data: Buffer, addr: Address) => {
    if (filter(data, addr)) receive.call(socket, data, addr);
  };
  return undefined;
}

/**
 * Makes a UDP ICE socket (werift's `StunProtocol`) use the transport `open`
 * returns instead of a UDP socket of its own: werift 0.25.2 opens one in
 * `StunProtocol.connectionMade`, which gathering calls right after
 * `Connection.ensureProtocol` (so call this from {@link watchIceSockets}'s
 * callback). Datagrams given to the transport's `onData` go through
 * `datagramReceived`, looked up per datagram so {@link filterIceSocket}
 * still applies. Other sockets (TURN, TCP) are left alone. Returns the name
 * of the werift member that is missing, or undefined.
 */
export function replaceUdpTransport(
  socket: IceSocket,
  open: (family: 4 | 6) => Promise<Transport>,
): string | undefined {
  if (!(socket instanceof StunProtocol)) return undefined;
  const internals = socket as unknown as SocketInternals;
  if (typeof internals.connectionMade !== "function") return "StunProtocol.connectionMade";
  if (typeof internals.datagramReceived !== "function") return "StunProtocol.datagramReceived";
  internals.connectionMade = async (useIpv4: boolean) => {
    const transport = await open(useIpv4 ? 4 : 6);
    transport.onData = (data, addr) => internals.datagramReceived?.call(socket, data, addr);
    internals.transport = transport;
  };
  return undefined;
}

/** The DTLS transport whose ICE connection owns `socket`, if any. */
export function dtlsTransportOf(pc: RTCPeerConnection, socket: IceSocket): RTCDtlsTransport | undefined {
  for (const transport of pc.dtlsTransports) {
    const connection = transport.iceTransport.connection as IceConnection & ConnectionInternals;
    if (connection.protocols?.includes(socket)) return transport;
  }
  return undefined;
}
