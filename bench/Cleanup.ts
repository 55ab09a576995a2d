/**
 * Last-resort teardown: the processes a bench run started, killed
 * synchronously if the run is interrupted (SIGINT/SIGTERM) or crashes.
 * Normal teardown is each owner's own `stop()`/`close()` in a finally block.
 */
export class Cleanup {
  readonly #killers = new Set<() => void>();

  /** Registers a synchronous kill; returns the function that unregisters it. */
  add(kill: () => void): () => void {
    this.#killers.add(kill);
    return () => this.#killers.delete(kill);
  }

  killAll(): void {
    for (const kill of this.#killers) {
      try {
        kill();
      } catch {
        // Keep going: the others must die too.
      }
    }
    this.#killers.clear();
  }
}
