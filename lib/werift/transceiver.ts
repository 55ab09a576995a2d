/**
 * werift's per-transceiver state that the SFU trims or releases. Each member
 * used here is named with the werift version it was read from;
 * test/werift/internals.test.ts names it if an upgrade moves it.
 */
import { Event, type RTCRtpTransceiver } from "werift";
import { DeferredEvent } from "./DeferredEvent.js";

/**
 * The Events of a fresh sendonly transceiver that werift neither subscribes
 * to nor keeps a reference to elsewhere (werift 0.25.2): the SFU's forwarding
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
 * after `addTransceiver`: idle Events (fields of werift 0.25.2's transceiver,
 * sender, bandwidth estimator, receiver and track, swapped in place) become {@link DeferredEvent}s, and the
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
  // `length` counts only plain subscriptions; queuing ones sit in werift 0.25.2's private `Event.event.promiseStack`.
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

/** The abort reason for a stopped transceiver's RTCP loops: a constant, so it pins no call stack. */
const TRANSCEIVER_RELEASED = Object.freeze(new Error("forwarding stopped"));

interface RtcpInternals {
  /** werift 0.25.2 `RTCRtpSender.dtlsDisposer`: the sender's subscriptions to the shared DTLS transport. */
  dtlsDisposer?: Array<() => void>;
  /** werift 0.25.2 `RTCRtpSender.rtcpCancel` / `RTCRtpReceiver.rtcpCancel`: aborts the RTCP report loop. */
  rtcpCancel?: AbortController;
}

/**
 * Undoes what stopping a transceiver in werift leaves behind on a connection
 * that lives on. The sender stays subscribed to the connection's shared DTLS
 * transport, and the DOMException that sender and receiver abort their RTCP
 * loops with keeps the call stack of that moment, closures and all, down to
 * the peer that left. A long-lived peer in a room with churn kept every peer
 * that had ever left this way (test/hardening/churn.test.ts). Call it before
 * the transceiver is stopped: aborting first with a constant reason makes
 * werift's own abort a no-op.
 */
export function releaseTransceiver(transceiver: RTCRtpTransceiver): void {
  const sender = transceiver.sender as unknown as RtcpInternals;
  const receiver = transceiver.receiver as unknown as RtcpInternals;
  sender.rtcpCancel?.abort(TRANSCEIVER_RELEASED);
  receiver.rtcpCancel?.abort(TRANSCEIVER_RELEASED);
  for (const dispose of sender.dtlsDisposer?.splice(0) ?? []) dispose();
}
