/** An event map: event name → tuple of listener arguments. */
export type EventMap = Record<string, unknown[]>;

/** A listener for one event of an event map. */
export type Listener<Args extends unknown[]> = (...args: Args) => void;

/**
 * A minimal typed event emitter for the browser (no Node `events` module).
 *
 * A listener that throws is reported on the console and never breaks the
 * emitter's caller: the SDK emits from inside socket and RTCPeerConnection
 * handlers whose own state must keep moving.
 */
export class TypedEmitter<Events extends EventMap> {
  // Listeners of different events have different types; `on`/`emit` keep each event's own.
  readonly #listeners = new Map<keyof Events, Set<unknown>>();

  /** Adds a listener; returns a function that removes it. */
  on<E extends keyof Events>(event: E, listener: Listener<Events[E]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener);
    return () => this.off(event, listener);
  }

  /** Adds a listener that runs at most once; returns a function that removes it. */
  once<E extends keyof Events>(event: E, listener: Listener<Events[E]>): () => void {
    const off = this.on(event, (...args: Events[E]) => {
      off();
      listener(...args);
    });
    return off;
  }

  /** Removes a listener added with `on`. */
  off<E extends keyof Events>(event: E, listener: Listener<Events[E]>): void {
    this.#listeners.get(event)?.delete(listener);
  }

  /** Removes every listener, e.g. when the owner closes. */
  protected removeAllListeners(): void {
    this.#listeners.clear();
  }

  protected emit<E extends keyof Events>(event: E, ...args: Events[E]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    // Copy first: a listener may remove itself (once) while we iterate.
    for (const listener of [...set]) {
      try {
        (listener as Listener<Events[E]>)(...args);
      } catch (error) {
        console.error(`sfu-client: a "${String(event)}" listener threw`, error);
      }
    }
  }
}
