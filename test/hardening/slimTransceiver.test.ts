import { expect } from "chai";
import { Event, RTCPeerConnection } from "werift";
import { DeferredEvent } from "../../lib/werift/DeferredEvent.js";
import { DEFERRABLE_EVENTS, slimForwardingTransceiver } from "../../lib/werift/transceiver.js";

type Fields = Record<string, unknown>;

describe("forwarding transceivers without werift's idle state", () => {
  let pc: RTCPeerConnection;

  beforeEach(() => {
    pc = new RTCPeerConnection();
  });

  afterEach(async () => {
    await pc.close();
  });

  it("finds every Event it defers unheard on a fresh sendonly transceiver (fails on a werift upgrade that listens to one)", () => {
    const transceiver = pc.addTransceiver("audio", { direction: "sendonly" });
    const owners: Record<keyof typeof DEFERRABLE_EVENTS, Fields> = {
      transceiver: transceiver as unknown as Fields,
      sender: transceiver.sender as unknown as Fields,
      senderBandwidthEstimator: transceiver.sender.senderBWE as unknown as Fields,
      receiver: transceiver.receiver as unknown as Fields,
      receiverTrack: transceiver.receiver.track as unknown as Fields,
    };
    let expected = 0;
    for (const [owner, names] of Object.entries(DEFERRABLE_EVENTS)) {
      for (const name of names) {
        const event = owners[owner as keyof typeof DEFERRABLE_EVENTS][name];
        expect(event, `${owner}.${name}`).to.be.an.instanceOf(Event);
        expect((event as Event<unknown[]>).length, `${owner}.${name} listeners`).to.equal(0);
        expected++;
      }
    }
    expect(slimForwardingTransceiver(transceiver)).to.equal(expected);
    for (const [owner, names] of Object.entries(DEFERRABLE_EVENTS)) {
      for (const name of names) {
        expect(owners[owner as keyof typeof DEFERRABLE_EVENTS][name], `${owner}.${name}`).to.be.an.instanceOf(
          DeferredEvent,
        );
      }
    }
  });

  it("keeps an Event that already has a listener", () => {
    const transceiver = pc.addTransceiver("audio", { direction: "sendonly" });
    const heard: unknown[] = [];
    transceiver.sender.onRtcp.subscribe((packet) => heard.push(packet));
    const onRtcp = transceiver.sender.onRtcp;
    expect(slimForwardingTransceiver(transceiver)).to.equal(10);
    expect(transceiver.sender.onRtcp).to.equal(onRtcp);
  });

  it("keeps the ids' values while flattening them", () => {
    const transceiver = pc.addTransceiver("audio", { direction: "sendonly" });
    const before = {
      id: transceiver.id,
      trackId: transceiver.sender.trackId,
      uuid: transceiver.receiver.uuid,
      trackUuid: transceiver.receiver.track.uuid,
      trackIdOfTrack: transceiver.receiver.track.id,
    };
    slimForwardingTransceiver(transceiver);
    expect({
      id: transceiver.id,
      trackId: transceiver.sender.trackId,
      uuid: transceiver.receiver.uuid,
      trackUuid: transceiver.receiver.track.uuid,
      trackIdOfTrack: transceiver.receiver.track.id,
    }).to.deep.equal(before);
  });

  it("delivers what werift executes on a deferred Event to listeners that subscribe afterwards", async () => {
    const transceiver = pc.addTransceiver("audio", { direction: "sendonly" });
    slimForwardingTransceiver(transceiver);
    const bwe = transceiver.sender.senderBWE;
    bwe.congestionScore = 3; // werift executes onCongestionScore: nobody hears it yet
    const scores: number[] = [];
    bwe.onCongestionScore.subscribe((score) => scores.push(score));
    bwe.congestionScore = 5;
    const next = bwe.onAvailableBitrate.asPromise();
    bwe.availableBitrate = 64_000;
    expect(await next).to.deep.equal([64_000]);
    expect(scores).to.deep.equal([5]);
  });
});

describe("DeferredEvent", () => {
  const deferred = <T extends unknown[]>() => new DeferredEvent() as unknown as Event<T>;

  it("does nothing on execute until something subscribes, and makes no werift Event for it", () => {
    const event = new DeferredEvent();
    (event as unknown as Event<[number]>).execute(1);
    expect(event.materialized).to.equal(false);
    expect(event.length).to.equal(0);
    expect(event.ended).to.equal(false);
  });

  it("reaches later listeners through an execute taken before they subscribed", () => {
    const event = deferred<[number]>();
    const { execute } = event;
    const seen: number[] = [];
    event.subscribe((n) => seen.push(n));
    execute(7);
    event.execute(8);
    expect(seen).to.deep.equal([7, 8]);
    expect(event.length).to.equal(1);
  });

  it("unsubscribes, runs once and queuing listeners, and completes like werift's Event", async () => {
    const event = deferred<[string]>();
    const seen: string[] = [];
    const { unSubscribe } = event.subscribe((s) => seen.push(`a:${s}`));
    event.once((s) => seen.push(`once:${s}`));
    const queued: string[] = [];
    event.queuingSubscribe(async (s) => {
      await Promise.resolve();
      queued.push(s);
    });
    event.execute("x");
    unSubscribe();
    event.execute("y");
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).to.deep.equal(["a:x", "once:x"]);
    expect(queued).to.deep.equal(["x", "y"]);

    let ended = false;
    event.onended = () => (ended = true);
    event.complete();
    expect(event.ended).to.equal(true);
    expect(ended).to.equal(true);
    event.execute("z");
    expect(seen).to.have.length(2);
  });

  it("pipes into another Event and resolves asPromise", async () => {
    const source = deferred<[number]>();
    const target = new Event<[number]>();
    source.pipe(target);
    const next = target.asPromise();
    source.execute(42);
    expect(await next).to.deep.equal([42]);
  });
});
