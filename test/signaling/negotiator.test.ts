import { expect } from "chai";
import type { RTCPeerConnection } from "werift";
import { NegotiationError, TimeoutError } from "../../lib/errors.js";
import { createSilentLogger } from "../../lib/logger.js";
import type { SessionDescription } from "../../lib/protocol.js";
import { Negotiator } from "../../lib/sfu/Negotiator.js";
import { withTimeout } from "../../lib/util/timeout.js";
import { closedOffer, loopbackPeer } from "../helpers/loopbackPeer.js";
import { sleep, waitFor } from "../helpers/wait.js";

const STEP_TIMEOUT_MS = 60_000;

/** Timers pending in this process. */
const pendingTimers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

const audioOffer = () => closedOffer((pc) => pc.addTransceiver("audio", { direction: "sendonly" }));

/** The SFU's side of a session, with the offers it sends and the failures it reports. */
function negotiatorOn(pc: RTCPeerConnection) {
  const offers: SessionDescription[] = [];
  const failures: Error[] = [];
  const negotiator = new Negotiator({
    pc,
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
