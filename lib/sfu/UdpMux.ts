import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import type { AddressInfo } from "node:net";
import { isStunMessage, type Address } from "werift";
import type { Logger } from "../logger.js";
import { checkStunRequest, MAX_KNOWN_SOURCES, stunRequestUfrag } from "./DatagramGuard.js";
import { MuxTransport, type MuxSocket } from "./MuxTransport.js";

export interface UdpMuxOptions {
  family: 4 | 6;
  port: number;
  /** Address (or host name) to bind; every address of the family when absent. */
  bindAddress?: string;
  logger: Logger;
}

/** How many entries the demultiplexer holds; all zero once every transport has closed. */
export interface UdpMuxStats {
  transports: number;
  ufrags: number;
  addresses: number;
  /** Datagrams dropped: from an unknown address and not an authentic STUN request for a registered ufrag. */
  dropped: number;
}

/** A remote address bound to one transport; `addr` is handed to werift with every datagram from it. */
interface Binding {
  readonly transport: MuxTransport;
  readonly addr: Address;
  /** The address as the socket reports it (IPv6 with its zone): the key in the address table. */
  readonly key: string;
}

interface Registration {
  readonly ufrags: string[];
  /** Least recently authenticated first. */
  readonly bindings: Binding[];
}

/**
 * One UDP socket that every peer connection's ICE shares (ICE_UDP_PORT,
 * PROTOCOL §13). werift opens a socket per connection; here each connection
 * gets a {@link MuxTransport} over this one, and each datagram goes to the
 * transport its remote address is bound to. An address is bound only by a
 * STUN binding request whose USERNAME names a registered local ufrag and
 * whose MESSAGE-INTEGRITY verifies with that ufrag's password; every other
 * datagram from an unknown address is dropped unanswered. A connection keeps
 * at most {@link MAX_KNOWN_SOURCES} addresses, the least recently
 * authenticated going first, so an ICE restart or a client's new address
 * (which authenticates in turn) rebinds without growing the table.
 */
export class UdpMux {
  readonly family: 4 | 6;
  readonly #socket: Socket;
  readonly #logger: Logger;
  readonly #listening: Promise<void>;
  // Keyed by the address string the socket hands us, then the port: both lookups hash values that
  // already exist, so the media path allocates nothing (one combined key would build a string or a heap number per datagram).
  readonly #byAddress = new Map<string, Map<number, Binding>>();
  /** werift's ufrags are 4 hex digits: at a few hundred peers two connections share one, and the password tells them apart. */
  readonly #byUfrag = new Map<string, MuxTransport[]>();
  readonly #registrations = new Map<MuxTransport, Registration>();
  readonly #link: MuxSocket;
  #dropped = 0;
  #closed = false;

  constructor(options: UdpMuxOptions) {
    this.family = options.family;
    this.#logger = options.logger.child({ component: "udp-mux", family: options.family });
    this.#socket = createSocket({
      type: options.family === 4 ? "udp4" : "udp6",
      ipv6Only: options.family === 6,
    });
    this.#socket.on("message", this.#onMessage);
    this.#listening = new Promise<void>((resolve, reject) => {
      this.#socket.once("error", reject);
      this.#socket.bind(
        { port: options.port, address: options.bindAddress ?? (options.family === 4 ? "0.0.0.0" : "::") },
        () => {
          this.#socket.off("error", reject);
          this.#growBuffers();
          // Send errors (an unreachable or unresolvable destination) arrive here; they concern one datagram.
          this.#socket.on("error", (error) => this.#logger.debug("media socket error", { error }));
          resolve();
        },
      );
    });
    // Whoever needs the socket awaits `listening`; an unobserved failure must not be an unhandled rejection.
    this.#listening.catch(() => undefined);
    this.#link = {
      family: this.family,
      socket: this.#socket,
      addUfrag: (transport, ufrag) => this.#addUfrag(transport, ufrag),
      release: (transport) => this.#release(transport),
    };
  }

  /** Settles when the socket is bound; rejects with the bind error (a port in use, an address not on this host). */
  get listening(): Promise<void> {
    return this.#listening;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The bound socket's address. */
  get address(): AddressInfo {
    return this.#socket.address();
  }

  get stats(): UdpMuxStats {
    let addresses = 0;
    for (const ports of this.#byAddress.values()) addresses += ports.size;
    return {
      transports: this.#registrations.size,
      ufrags: this.#byUfrag.size,
      addresses,
      dropped: this.#dropped,
    };
  }

  /**
   * A transport for one ICE connection, once the socket is bound.
   * `passwordFor` answers for that connection's local ufrags only.
   */
  async createTransport(passwordFor: (ufrag: string) => string | undefined): Promise<MuxTransport> {
    await this.#listening;
    if (this.#closed) throw new Error("the shared media socket is closed");
    const transport = new MuxTransport(this.#link, passwordFor);
    this.#registrations.set(transport, { ufrags: [], bindings: [] });
    return transport;
  }

  /** Closes the socket; every transport on it is closed first. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const transport of [...this.#registrations.keys()]) await transport.close();
    await this.#listening.catch(() => undefined);
    await new Promise<void>((resolve) => {
      try {
        this.#socket.close(() => resolve());
      } catch {
        resolve(); // never bound, or already closed
      }
    });
  }

  /**
   * Every peer's packets queue in this one socket's kernel buffers, and
   * libuv reads at most 32 datagrams per socket per loop iteration (a
   * socket per peer gets 32 each): the default (about 200 KB) overflows
   * during a pause of the event loop. The kernel caps the size at
   * net.core.rmem_max / wmem_max. An event loop that also serves many other
   * busy UDP sockets starves this one whatever its size.
   */
  #growBuffers(): void {
    try {
      this.#socket.setRecvBufferSize(SOCKET_BUFFER_BYTES);
      this.#socket.setSendBufferSize(SOCKET_BUFFER_BYTES);
    } catch (error) {
      this.#logger.warn("could not grow the shared media socket's buffers", { error });
    }
  }

  /** Per datagram: a known address takes one two-level map lookup and nothing else. */
  readonly #onMessage = (data: Buffer, rinfo: RemoteInfo): void => {
    const binding = this.#byAddress.get(rinfo.address)?.get(rinfo.port);
    if (binding !== undefined && !isStunRequest(data)) {
      this.#deliver(binding, data);
      return;
    }
    // Every request is authenticated here, also from a known address: the address may have moved to another connection.
    if (isStunRequest(data)) {
      const route = this.#authenticate(data);
      if (route) {
        this.#deliver(this.#bind(route, rinfo), data);
        return;
      }
    }
    this.#dropped++;
  };

  #deliver(binding: Binding, data: Buffer): void {
    try {
      binding.transport.onData(data, binding.addr);
    } catch (error) {
      this.#logger.warn("ICE datagram handler failed", { error });
    }
  }

  /** The transport whose connection sent us this request's credentials, if any. */
  #authenticate(data: Buffer): MuxTransport | undefined {
    const ufrag = stunRequestUfrag(data);
    const owners = ufrag === undefined ? undefined : this.#byUfrag.get(ufrag);
    if (!owners) return undefined;
    for (const transport of owners) {
      if (checkStunRequest(data, transport.passwordFor) === "authentic-request") return transport;
    }
    return undefined;
  }

  /** Binds the sender's address to `transport` as its most recently authenticated one. */
  #bind(transport: MuxTransport, rinfo: RemoteInfo): Binding {
    const registration = this.#registrations.get(transport)!;
    let ports = this.#byAddress.get(rinfo.address);
    const existing = ports?.get(rinfo.port);
    if (existing?.transport === transport) {
      const bindings = registration.bindings;
      bindings.splice(bindings.indexOf(existing), 1);
      bindings.push(existing);
      return existing;
    }
    if (existing) this.#unbind(existing, true);
    // werift's UdpTransport strips an IPv6 zone ("fe80::1%eth0") before handing the address on.
    const host = rinfo.address.split("%")[0]!;
    const binding: Binding = { transport, addr: [host, rinfo.port], key: rinfo.address };
    if (!ports) this.#byAddress.set(rinfo.address, (ports = new Map<number, Binding>()));
    ports.set(rinfo.port, binding);
    registration.bindings.push(binding);
    if (registration.bindings.length > MAX_KNOWN_SOURCES) this.#unbind(registration.bindings[0]!, true);
    return binding;
  }

  /** Removes `binding` from the address table (and, with `fromOwner`, from its transport's list). */
  #unbind(binding: Binding, fromOwner: boolean): void {
    const ports = this.#byAddress.get(binding.key);
    if (ports?.get(binding.addr[1]) === binding) {
      ports.delete(binding.addr[1]);
      if (ports.size === 0) this.#byAddress.delete(binding.key);
    }
    if (!fromOwner) return;
    const bindings = this.#registrations.get(binding.transport)?.bindings;
    const index = bindings?.indexOf(binding) ?? -1;
    if (index >= 0) bindings!.splice(index, 1);
  }

  #addUfrag(transport: MuxTransport, ufrag: string): void {
    const registration = this.#registrations.get(transport);
    if (!registration || registration.ufrags.includes(ufrag)) return;
    registration.ufrags.push(ufrag);
    const owners = this.#byUfrag.get(ufrag);
    if (owners) owners.push(transport);
    else this.#byUfrag.set(ufrag, [transport]);
  }

  #release(transport: MuxTransport): void {
    const registration = this.#registrations.get(transport);
    if (!registration) return;
    this.#registrations.delete(transport);
    for (const binding of registration.bindings) this.#unbind(binding, false);
    for (const ufrag of registration.ufrags) {
      const owners = this.#byUfrag.get(ufrag);
      const rest = owners?.filter((owner) => owner !== transport) ?? [];
      if (rest.length > 0) this.#byUfrag.set(ufrag, rest);
      else this.#byUfrag.delete(ufrag);
    }
  }
}

/** What the shared socket asks of the kernel for each direction. */
const SOCKET_BUFFER_BYTES = 4 * 1024 * 1024;

/** A STUN request (RFC 5389 §6: both class bits of the message type clear), read without parsing. */
function isStunRequest(data: Buffer): boolean {
  return isStunMessage(data) && (data.readUInt16BE(0) & 0x0110) === 0;
}
