import type { IceConnection, RTCPeerConnection } from "werift";
import type { Logger } from "../logger.js";
import { localIcePassword, localIceUfrags } from "../werift/ice.js";
import { replaceUdpTransport, watchIceSockets } from "../werift/iceSockets.js";
import type { MuxTransport } from "./MuxTransport.js";
import type { UdpMux } from "./UdpMux.js";

/** The shared sockets of ICE_UDP_PORT, one per address family in use. */
export type UdpMuxes = Partial<Record<4 | 6, UdpMux>>;

/**
 * Puts a peer connection's UDP ICE sockets on the shared sockets of
 * ICE_UDP_PORT: each socket werift opens gets a {@link MuxTransport} of the
 * {@link UdpMux} of its family instead of a port of its own, registered
 * under every local ufrag the connection has had (an ICE restart adds one).
 * One transport per family and connection: werift is told to gather one
 * host address per family (peerConfig), and a second would be refused.
 */
export class MuxedIce {
  readonly #pc: () => RTCPeerConnection;
  readonly #muxes: UdpMuxes;
  readonly #logger: Logger;
  readonly #connections = new WeakSet<IceConnection>();
  readonly #transports: Array<{ connection: IceConnection; transport: MuxTransport }> = [];
  readonly #passwordFor = (ufrag: string) => localIcePassword(this.#pc(), ufrag);
  #closed = false;
  #reportedMissing = false;

  /** `pc` is a getter: this is created before the connection, like the DatagramGuard. */
  constructor(options: { pc: () => RTCPeerConnection; muxes: UdpMuxes; logger: Logger }) {
    this.#pc = options.pc;
    this.#muxes = options.muxes;
    this.#logger = options.logger;
  }

  /**
   * Hooks every ICE connection of the peer (before gathering opens its
   * sockets) and registers the current local ufrags. Call whenever gathering
   * may start and after every local description; repeated calls are cheap.
   */
  protect(): void {
    if (this.#closed) return;
    for (const transport of this.#pc().iceTransports) {
      const connection = transport.connection;
      if (this.#connections.has(connection)) continue;
      const missing = watchIceSockets(connection, (socket) => {
        const notReplaced = replaceUdpTransport(socket, (family) => this.#open(connection, family));
        if (notReplaced) this.#reportMissing(notReplaced);
      });
      if (missing) this.#reportMissing(missing);
      else this.#connections.add(connection);
    }
    for (const { connection, transport } of this.#transports) transport.addUfrags(localIceUfrags(connection));
  }

  /** Unregisters every transport from its mux; werift closing its sockets does the same, this makes it certain. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const { transport } of this.#transports.splice(0)) void transport.close();
  }

  async #open(connection: IceConnection, family: 4 | 6): Promise<MuxTransport> {
    const mux = this.#muxes[family];
    if (!mux) throw new Error(`no shared IPv${family} media socket`);
    if (this.#transports.some((t) => t.connection === connection && t.transport.addressFamily === family)) {
      throw new Error(`one IPv${family} socket per ICE connection on the shared port`);
    }
    const transport = await mux.createTransport(this.#passwordFor);
    if (this.#closed) {
      await transport.close();
      throw new Error("the peer closed while its ICE socket opened");
    }
    this.#transports.push({ connection, transport });
    transport.addUfrags(localIceUfrags(connection));
    return transport;
  }

  #reportMissing(what: string): void {
    if (this.#reportedMissing) return;
    this.#reportedMissing = true;
    this.#logger.error("werift internals changed: ICE sockets are not on the shared port", { missing: what });
  }
}
