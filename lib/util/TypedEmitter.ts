import type { Logger } from "../logger.js";

type EventMap = Record<string, unknown[]>;
type Listener<Args extends unknown[]> = (...args: Args) => void;
// Listeners are stored untyped; `on`/`emit` keep each event's own signature.
type AnyListener = (...args: unknown[]) => void;

/**
 * A small typed event emitter whose `emit` never throws.
 *
 * Domain events are often emitted from inside werift's receive path; a
 * listener's exception is logged and swallowed there instead of unwinding
 * into the library.
 */
export class TypedEmitter<Events extends EventMap> {
  readonly #listeners = new Map<keyof Events, Set<AnyListener>>();
  readonly #logger: Logger;

  constructor(logger: Logger) {
    this.#logger = logger;
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

  once<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    const off = this.on(event, (...args) => {
      off();
      listener(...args);
    });
    return off;
  }

  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    const set = this.#listeners.get(event);
    set?.delete(listener as AnyListener);
    if (set?.size === 0) this.#listeners.delete(event);
  }

  protected emit<K extends keyof Events>(event: K, ...args: Events[K]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(...args);
      } catch (error) {
        this.#logger.error("event listener threw", { event: String(event), error });
      }
    }
  }

  /** Drops every listener; called by `close()` implementations. */
  protected removeAllListeners(): void {
    this.#listeners.clear();
  }

  listenerCount(event: keyof Events): number {
    return this.#listeners.get(event)?.size ?? 0;
  }
}
