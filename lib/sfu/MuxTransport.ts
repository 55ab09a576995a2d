import type { Socket } from "node:dgram";
import type { AddressInfo } from "node:net";
import type { Address, Transport } from "werift";

/** What a {@link MuxTransport} needs from the {@link UdpMux} that made it. */
export interface MuxSocket {
  readonly family: 4 | 6;
  readonly socket: Socket;
  /** Routes unknown addresses that authenticate with `ufrag` to `transport`. */
  addUfrag(transport: MuxTransport, ufrag: string): void;
  /** Forgets every ufrag and address of `transport`. */
  release(transport: MuxTransport): void;
}

/**
 * One ICE connection's view of the shared UDP socket: what werift's
 * `UdpTransport` is to a socket of its own (type, address, `onData`, `send`,
 * `close`). The {@link UdpMux} calls `onData` with the datagrams it routes
 * here; `close()` only unregisters, the socket stays open for the others.
 */
export class MuxTransport implements Transport {
  readonly type = "udp";
  readonly addressFamily: 4 | 6;
  /** The local ICE password of `ufrag` on the connection this transport serves, if it has that ufrag. */
  readonly passwordFor: (ufrag: string) => string | undefined;
  /** Set by werift (StunProtocol) to its datagram handler. */
  onData: (data: Buffer, addr: Address) => void = () => undefined;
  readonly #socket: MuxSocket;
  #closed = false;

  constructor(socket: MuxSocket, passwordFor: (ufrag: string) => string | undefined) {
    this.#socket = socket;
    this.addressFamily = socket.family;
    this.passwordFor = passwordFor;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The shared socket's address: the port every candidate carries. */
  get address(): AddressInfo {
    return this.#socket.socket.address();
  }

  /** The shared socket: MediaTransport sends forwarded RTP on it directly, as on werift's own. */
  get socket(): Socket {
    return this.#socket.socket;
  }

  get host(): string {
    return this.address.address;
  }

  get port(): number {
    return this.address.port;
  }

  /** Lets datagrams that authenticate with these ufrags from a new address reach this transport. */
  addUfrags(ufrags: Iterable<string>): void {
    if (this.#closed) return;
    for (const ufrag of ufrags) this.#socket.addUfrag(this, ufrag);
  }

  readonly send = (data: Buffer, addr?: Address): Promise<void> => {
    // werift always names the destination; a closed transport sends nothing, as werift's own does.
    if (!this.#closed && addr) this.#socket.socket.send(data, addr[1], addr[0]);
    return Promise.resolve();
  };

  readonly close = (): Promise<void> => {
    if (!this.#closed) {
      this.#closed = true;
      this.#socket.release(this);
    }
    return Promise.resolve();
  };
}
