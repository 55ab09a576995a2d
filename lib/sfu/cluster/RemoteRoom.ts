import type { RoomMembers } from "../Sfu.js";
import type { ForwardingWorker } from "./ForwardingWorker.js";
import type { RemotePeer } from "./RemotePeer.js";

/** The main thread's view of a room that one forwarding worker runs. */
export class RemoteRoom implements RoomMembers {
  readonly id: string;
  readonly worker: ForwardingWorker;
  /** Joins sent to the worker and not yet answered: they keep the room on its worker. */
  pendingJoins = 0;
  readonly #peers = new Map<string, RemotePeer>();

  constructor(id: string, worker: ForwardingWorker) {
    this.id = id;
    this.worker = worker;
  }

  get peers(): RemotePeer[] {
    return [...this.#peers.values()];
  }

  get size(): number {
    return this.#peers.size;
  }

  /** Peers and joins in flight: what the pool balances workers on. */
  get load(): number {
    return this.#peers.size + this.pendingJoins;
  }

  get unused(): boolean {
    return this.load === 0;
  }

  add(peer: RemotePeer): void {
    this.#peers.set(peer.id, peer);
  }

  remove(peer: RemotePeer): void {
    this.#peers.delete(peer.id);
  }

  findUser(userId: string): RemotePeer | undefined {
    return this.peers.find((peer) => peer.userId === userId);
  }
}
