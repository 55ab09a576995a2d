import { expect } from "chai";
import type { RTCPeerConnection } from "werift";
import { NegotiationError, TimeoutError } from "../../lib/errors.js";
import { createSilentLogger } from "../../lib/logger.js";
import type { SessionDescription } from "../../lib/protocol.js";
import { Negotiator, RENEGOTIATION_GATHER_MS } from "../../lib/sfu/Negotiator.js";
import { OfferTurns } from "../../lib/sfu/OfferTurns.js";
import { withTimeout } from "../../lib/util/timeout.js";
import { closedOffer, loopbackPeer } from "../helpers/loopbackPeer.js";
import { sleep, waitFor } from "../helpers/wait.js";

const STEP_TIMEOUT_MS = 60_000;

/** Timers pending in this process. */
const pendingTimers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

const audioOffer = () => closedOffer((pc) => pc.addTransceiver("audio", { direction: "sendonly" }));

/** The SFU's side of a session, with the offers it sends and the failures it reports. */
function negotiatorOn(pc: RTCPeerConnection, turns?: OfferTurns) {
  const offers: SessionDescription[] = [];
  const failures: Error[] = [];
  const negotiator = new Negotiator({
    pc,
    ...(turns && { turns }),
    stepTimeoutMs: STEP_TIMEOUT_MS,
    answerTimeoutMs: STEP_TIMEOUT_MS,
    sendOffer: (offer) => {
      offers.push(offer);
      return true;
    },
    onFailure: (error) => failures.push(error),
    logger: createSilentLogger(),
  });
  return { negotiator, offers, failures };
}

describe("withTimeout", () => {
  it("rejects with the abort reason as soon as its signal aborts, and leaves no timer behind", async () => {
    const closing = new AbortController();
    // mocha arms this test's own timeout once the test first awaits: count after that.
    await sleep(0);
    const before = pendingTimers();
    const step = withTimeout(new Promise(() => undefined), STEP_TIMEOUT_MS, "a hung step", closing.signal);
    expect(pendingTimers(), "the step's timeout while it waits").to.equal(before + 1);

    closing.abort(new NegotiationError("the peer connection is closed"));
    const error = await step.then(
      () => undefined,
      (e: unknown) => e,
    );

    expect(error).to.be.an.instanceOf(NegotiationError);
    expect(pendingTimers(), "timers once it ended").to.equal(before);
  });

  it("refuses to start once its signal has aborted", async () => {
    const closing = new AbortController();
    closing.abort(new NegotiationError("the peer connection is closed"));
    const error = await withTimeout(Promise.resolve("done"), STEP_TIMEOUT_MS, "a step", closing.signal).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).to.be.an.instanceOf(NegotiationError);
  });

  it("still times out a step that never settles", async () => {
    const error = await withTimeout(new Promise(() => undefined), 20, "a hung step").then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error)
      .to.be.an.instanceOf(TimeoutError)
      .with.property("message", "a hung step timed out after 20 ms");
  });
});

describe("negotiation steps when the peer closes", () => {
  let pc: RTCPeerConnection;

  beforeEach(() => {
    pc = loopbackPeer();
  });

  afterEach(async () => {
    await pc.close();
  });

  it("ends a step werift left hanging at once and reports no failure", async () => {
    const { negotiator, failures } = negotiatorOn(pc);
    const sdp = await audioOffer();
    pc.setRemoteDescription = () => new Promise(() => undefined);

    const answer = negotiator.handleOffer(sdp);
    await sleep(50);
    negotiator.close();
    const outcome = await Promise.race([
      answer.then(
        () => "answered",
        (error: unknown) => error,
      ),
      sleep(1_000).then(() => "still pending a second after close"),
    ]);

    expect(outcome)
      .to.be.an.instanceOf(NegotiationError)
      .with.property("message")
      .that.matches(/closed/);
    expect(failures).to.deep.equal([]);
  });

  it("neither sends nor awaits an answer to an SFU offer whose step settled just as the peer closed", async () => {
    const { negotiator, offers } = negotiatorOn(pc);
    await negotiator.handleOffer(await audioOffer());
    const setLocalDescription = pc.setLocalDescription.bind(pc);
    let settle: (() => void) | undefined;
    // werift applies the offer for real; the step's promise resolves only when the test says.
    pc.setLocalDescription = ((description) =>
      new Promise((resolve, reject) => {
        setLocalDescription(description).then((applied) => (settle = () => resolve(applied)), reject);
      })) as typeof pc.setLocalDescription;

    negotiator.requestNegotiation();
    await waitFor(() => settle, 5_000, "the SFU's offer to be applied");
    // The step resolves and the peer closes in the same tick, before the offer task runs on.
    settle!();
    negotiator.close();
    await sleep(50);

    // An offer sent would also have armed its answer timer, holding the closed connection.
    expect(offers, "offers sent after close").to.deep.equal([]);
  });
});

describe("SFU offers waiting for their turn", () => {
  const pcs: RTCPeerConnection[] = [];
  const open = () => {
    const pc = loopbackPeer();
    pcs.push(pc);
    return pc;
  };

  afterEach(async () => {
    await Promise.all(pcs.splice(0).map((pc) => pc.close()));
  });

  /** Holds the queue's current turn until `release` is called. */
  function blockTurns(turns: OfferTurns) {
    let release: () => void = () => undefined;
    turns.request(() => new Promise<void>((resolve) => (release = resolve)), true);
    return () => release();
  }

  it("builds no offer for a peer that closes before its turn, and leaves nothing queued or pending", async () => {
    const turns = new OfferTurns();
    const pc = open();
    const { negotiator, offers, failures } = negotiatorOn(pc, turns);
    await negotiator.handleOffer(await audioOffer());
    let offersCreated = 0;
    const createOffer = pc.createOffer.bind(pc);
    pc.createOffer = (...args: Parameters<typeof pc.createOffer>) => {
      offersCreated++;
      return createOffer(...args);
    };
    const release = blockTurns(turns);
    await sleep(0);
    const timersBefore = pendingTimers();

    pc.addTransceiver("audio", { direction: "sendonly" });
    negotiator.requestNegotiation();
    expect(turns.waiting, "the peer's offer waits for its turn").to.equal(1);
    negotiator.close();
    await pc.close();
    expect(turns.waiting, "a closed peer's turn is dropped").to.equal(0);
    release();
    await sleep(50);

    expect(offersCreated, "offers werift built on the closed connection").to.equal(0);
    expect(offers).to.deep.equal([]);
    expect(failures).to.deep.equal([]);
    expect(pendingTimers(), "timers (no answer timer, no werift consent or check timer)").to.be.at.most(
      timersBefore,
    );
  });

  it("sends no offer and leaves no timer for a connected peer that closes while its renegotiation gathers changes", async () => {
    const turns = new OfferTurns();
    const pc = open();
    const { negotiator, offers } = negotiatorOn(pc, turns);
    await negotiator.handleOffer(await audioOffer());
    pc.addTransceiver("audio", { direction: "sendonly" });
    negotiator.requestNegotiation();
    await waitFor(() => offers.length === 1, 5_000, "the first SFU offer");
    await negotiator.handleAnswer(await answerTo(offers[0]!.sdp));
    await sleep(0);
    const timersBefore = pendingTimers();

    pc.addTransceiver("audio", { direction: "sendonly" });
    negotiator.requestNegotiation();
    expect(pendingTimers(), "the gathering timer").to.equal(timersBefore + 1);
    negotiator.close();
    expect(pendingTimers(), "timers once closed").to.equal(timersBefore);
    await sleep(RENEGOTIATION_GATHER_MS + 100);

    expect(offers, "offers").to.have.length(1);
    expect(turns.waiting, "turns waiting").to.equal(0);
  });

  it("sends one offer for every change made while the peer waited, and newcomers' first offers go first", async () => {
    const turns = new OfferTurns();
    const settled = open();
    const newcomer = open();
    const a = negotiatorOn(settled, turns);
    const b = negotiatorOn(newcomer, turns);
    await a.negotiator.handleOffer(await audioOffer());
    await b.negotiator.handleOffer(await audioOffer());
    // The settled peer has answered an offer before; the newcomer has not.
    settled.addTransceiver("audio", { direction: "sendonly" });
    a.negotiator.requestNegotiation();
    await waitFor(() => a.offers.length === 1, 5_000, "the settled peer's first offer");
    await a.negotiator.handleAnswer(await answerTo(a.offers[0]!.sdp));
    const sent: string[] = [];
    a.offers.length = 0;

    const release = blockTurns(turns);
    for (let i = 0; i < 3; i++) {
      settled.addTransceiver("audio", { direction: "sendonly" });
      a.negotiator.requestNegotiation();
    }
    newcomer.addTransceiver("audio", { direction: "sendonly" });
    b.negotiator.requestNegotiation();
    const record = (who: string, offers: SessionDescription[]) => {
      const push = offers.push.bind(offers);
      offers.push = (...items) => {
        sent.push(who);
        return push(...items);
      };
    };
    record("settled", a.offers);
    record("newcomer", b.offers);
    release();
    await waitFor(() => sent.length === 2, 5_000, "both offers");
    await sleep(50);

    expect(sent, "order of the offers sent").to.deep.equal(["newcomer", "settled"]);
    expect(a.offers, "offers to the settled peer for three changes").to.have.length(1);
    expect(a.offers[0]!.sdp.match(/^m=audio/gm), "its m-sections: its own and four forwarded").to.have.length(
      5,
    );
    a.negotiator.close();
    b.negotiator.close();
  });
});

/** A werift client's answer to an SFU offer. */
async function answerTo(sdp: string): Promise<string> {
  const client = loopbackPeer();
  try {
    await client.setRemoteDescription({ type: "offer", sdp });
    const answer = await client.createAnswer();
    await client.setLocalDescription(answer);
    return client.localDescription!.sdp;
  } finally {
    await client.close();
  }
}
