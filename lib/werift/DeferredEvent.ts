import { Event } from "werift";

type AnyEvent = Event<unknown[]>;
type Listener = (...args: unknown[]) => unknown;

const ignoreError = (): void => undefined;

/**
 * Stands in for a werift `Event` that nothing listens to: a werift Event
 * carries ten closures (about 1 KB), and a forwarding transceiver has a dozen
 * that never fire or are never heard. The real Event is made on first use
 * (a subscription, a completion, a handler); until then executing is a no-op,
 * as it is on a werift Event without listeners.
 */
export class DeferredEvent {
  #real: AnyEvent | undefined;
  #execute: Listener | undefined;

  /** Whether anything has used this event beyond executing it. */
  get materialized(): boolean {
    return this.#real !== undefined;
  }

  get execute(): Listener {
    if (this.#real) return this.#real.execute;
    // A caller may keep this function: it reaches the listeners that subscribe later.
    return (this.#execute ??= (...args: unknown[]) => this.#real?.execute(...args));
  }

  get subscribe(): AnyEvent["subscribe"] {
    return this.#materialize().subscribe;
  }

  get queuingSubscribe(): AnyEvent["queuingSubscribe"] {
    return this.#materialize().queuingSubscribe;
  }

  get once(): AnyEvent["once"] {
    return this.#materialize().once;
  }

  get watch(): AnyEvent["watch"] {
    return this.#materialize().watch;
  }

  get asPromise(): AnyEvent["asPromise"] {
    return this.#materialize().asPromise;
  }

  get complete(): AnyEvent["complete"] {
    return this.#materialize().complete;
  }

  get error(): AnyEvent["error"] {
    return this.#materialize().error;
  }

  get allUnsubscribe(): AnyEvent["allUnsubscribe"] {
    return this.#materialize().allUnsubscribe;
  }

  get ended(): boolean {
    return this.#real?.ended ?? false;
  }

  set ended(value: boolean) {
    this.#materialize().ended = value;
  }

  get onended(): (() => void) | undefined {
    return this.#real?.onended;
  }

  set onended(value: (() => void) | undefined) {
    this.#materialize().onended = value;
  }

  get onerror(): (e: unknown) => void {
    return this.#real?.onerror ?? ignoreError;
  }

  set onerror(value: (e: unknown) => void) {
    this.#materialize().onerror = value;
  }

  get length(): number {
    return this.#real?.length ?? 0;
  }

  get returnTrigger(): AnyEvent["returnTrigger"] {
    return this.#materialize().returnTrigger;
  }

  get returnListener(): AnyEvent["returnListener"] {
    return this.#materialize().returnListener;
  }

  pipe(target: AnyEvent): void {
    this.#materialize().pipe(target);
  }

  #materialize(): AnyEvent {
    return (this.#real ??= new Event());
  }
}
