/** An event map: event name → tuple of listener arguments. */
export type EventMap = Record<string, unknown[]>;

/** A listener for one event of an event map. */
export type Listener<Args extends unknown[]> = (...args: Args) => void;

// Listeners are stored untyped; `on`/`emit` keep each event's own signature.
type AnyListener = (...args: unknown[]) => void;

/** Where an emitter reports a listener's exception; a winston `Logger` is one. */
export interface ListenerErrorLog {
  error(message: string, meta: { event: string; error: unknown }): unknown;
}

/** The default report, for the browser SDK, which has no logger of its own. */
const consoleLog: ListenerErrorLog = {
  error: (message, { event, error }) => console.error(`${message}: "${event}"`, error),
};

/**
 * A small typed event emitter whose `emit` never throws, for the domain and
 * the browser SDK alike (no Node `events` module, no imports).
 *
 * Domain events are often emitted from inside werift's receive path, and the
 * SDK's from socket and RTCPeerConnection handlers whose own state must keep
 * moving: a listener's exception is reported and swallowed there instead of
 * unwinding into the caller.
 */
export class TypedEmitter<Events extends EventMap> {
  readonly #listeners = new Map<keyof Events, Set<AnyListener>>();
  readonly #log: ListenerErrorLog;

  constructor(log: ListenerErrorLog = consoleLog) {
    this.#log = log;
  }

  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as AnyListener);
    return () => this.off(event, listener);
  }

  /** Adds a listener that runs at most once; returns the function that removes it. */
  once<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    const off = this.on(event, (...args) => {
      off();
      listener(...args);
    });
    return off;
  }

  /** Removes a listener added with `on`. */
  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    const set = this.#listeners.get(event);
    set?.delete(listener as AnyListener);
    if (set?.size === 0) this.#listeners.delete(event);
  }

  protected emit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    // Copy first: a listener may remove itself (once) while we iterate.
    for (const listener of [...set]) {
      try {
        listener(...args);
      } catch (error) {
        this.#log.error("event listener threw", { event: String(event), error });
      }
    }
  }

  /** Drops every listener; called by `close()` implementations. */
  protected removeAllListeners(): void {
    this.#listeners.clear();
  }

  /** How many listeners `event` has now. */
  listenerCount(event: keyof Events): number {
    return this.#listeners.get(event)?.size ?? 0;
  }
}
