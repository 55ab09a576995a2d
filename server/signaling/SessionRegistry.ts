import type { ClientSession } from "./ClientSession.js";

/** Which socket session currently carries each peer's signaling. */
export class SessionRegistry {
  readonly #byPeer = new Map<string, ClientSession>();
  readonly #all = new Set<ClientSession>();

  get size(): number {
    return this.#all.size;
  }

  get all(): IterableIterator<ClientSession> {
    return this.#all.values();
  }

  add(session: ClientSession): void {
    this.#all.add(session);
  }

  remove(session: ClientSession): void {
    this.#all.delete(session);
    const peer = session.peer;
    if (peer && this.#byPeer.get(peer.id) === session) this.#byPeer.delete(peer.id);
  }

  forPeer(peerId: string): ClientSession | undefined {
    return this.#byPeer.get(peerId);
  }

  assign(peerId: string, session: ClientSession): void {
    this.#byPeer.set(peerId, session);
  }

  release(peerId: string, session: ClientSession): void {
    if (this.#byPeer.get(peerId) === session) this.#byPeer.delete(peerId);
  }
}
