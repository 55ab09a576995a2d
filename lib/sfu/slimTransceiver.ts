import { Event, type RTCRtpTransceiver } from "werift";

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

/**
 * The Events of a fresh sendonly transceiver that werift neither subscribes
 * to nor keeps a reference to elsewhere (werift 0.25): the SFU's forwarding
 * path never listens to them either. Events werift subscribes to itself
 * (the transceiver's stop and release events, the receiver's packet-lost
 * event, the default track's onReceiveRtp) stay as they are.
 */
export const DEFERRABLE_EVENTS = {
  transceiver: ["onTrack"],
  sender: ["onReady", "onRtcp", "onPictureLossIndication", "onGenericNack"],
  senderBandwidthEstimator: ["onAvailableBitrate", "onCongestion", "onCongestionScore"],
  receiver: ["onRtcp"],
  receiverTrack: ["onReceiveRtcp", "onSourceChanged"],
} as const;

/**
 * Trims werift's per-transceiver state on a forwarding transceiver, right
 * after `addTransceiver`: idle Events become {@link DeferredEvent}s, and the
 * random ids werift builds by string concatenation (a chain of about
 * twenty string pieces each) become flat strings of the same value. Returns
 * how many Events it replaced; an Event that already has a listener is kept.
 */
export function slimForwardingTransceiver(transceiver: RTCRtpTransceiver): number {
  const sender = transceiver.sender;
  const receiver = transceiver.receiver;
  const owners: Array<[object | undefined, readonly string[]]> = [
    [transceiver, DEFERRABLE_EVENTS.transceiver],
    [sender, DEFERRABLE_EVENTS.sender],
    [sender.senderBWE, DEFERRABLE_EVENTS.senderBandwidthEstimator],
    [receiver, DEFERRABLE_EVENTS.receiver],
    [receiver.track, DEFERRABLE_EVENTS.receiverTrack],
  ];
  let replaced = 0;
  for (const [owner, names] of owners) {
    if (!owner) continue;
    const fields = owner as Record<string, unknown>;
    for (const name of names) {
      const event = fields[name];
      if (!(event instanceof Event) || !isIdle(event)) continue;
      fields[name] = new DeferredEvent();
      replaced++;
    }
  }
  flattenIds(transceiver);
  return replaced;
}

function isIdle(event: { ended: boolean; length: number }): boolean {
  // `length` counts only plain subscriptions; queuing ones sit in the private promise stack.
  const state = (event as unknown as { event?: { promiseStack?: unknown[] } }).event;
  return !event.ended && event.length === 0 && state?.promiseStack?.length === 0;
}

/** A copy of `text` in one flat string (V8 keeps a concatenated string as its pieces). */
function flat(text: string): string {
  return Buffer.from(text, "latin1").toString("latin1");
}

function flattenIds(transceiver: RTCRtpTransceiver): void {
  const fields = (owner: object) => owner as Record<string, unknown>;
  const track = fields(transceiver.receiver.track);
  const flatten = (owner: Record<string, unknown>, ...names: string[]) => {
    const value = owner[names[0]!];
    if (typeof value !== "string" || !/^[\x20-\x7e]*$/.test(value)) return;
    const copy = flat(value);
    // Keys that held the same string keep holding one string.
    for (const name of names) if (owner[name] === value) owner[name] = copy;
  };
  flatten(fields(transceiver), "id");
  flatten(fields(transceiver.sender), "trackId");
  flatten(fields(transceiver.receiver), "uuid");
  flatten(track, "uuid", "id");
}
