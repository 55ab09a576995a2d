import { expect } from "chai";
import type { RTCPeerConnection } from "werift";
import { createSilentLogger } from "../../lib/logger.js";
import type { SessionDescription } from "../../lib/protocol.js";
import { Negotiator } from "../../lib/sfu/Negotiator.js";
import { useSfu } from "../helpers/fixture.js";
import { loopbackPeer } from "../helpers/loopbackPeer.js";
import { jsepViolation, type MediaClient } from "../helpers/MediaClient.js";
import { waitFor } from "../helpers/wait.js";

/** The m-sections of an SDP: each one's port and its lines. */
function sections(sdp: string): Array<{ port: number; lines: string[] }> {
  return sdp
    .split(/\r?\n(?=m=)/)
    .slice(1)
    .map((section) => {
      const lines = section.split(/\r?\n/);
      return { port: Number(lines[0]!.split(" ")[1]), lines };
    });
}

async function expectEveryoneHearsEveryone(clients: MediaClient[]): Promise<void> {
  for (const receiver of clients)
    for (const sender of clients) if (receiver !== sender) await receiver.waitForPackets(sender.peerId, 25);
}

describe("JSEP-conformant SFU offers (RFC 8829 §5.2)", function () {
  this.timeout(60_000);
  const sfu = useSfu();

  it("says a=setup:actpass in every m-section of every offer, and keeps a=rtcp-mux on a leaver's stopped m-section", async () => {
    const alice = await sfu.join("jsep", "alice");
    const bob = await sfu.join("jsep", "bob");
    await waitFor(() => alice.signaling.events("offer").length >= 1, 10_000, "the SFU's first offer");
    const carol = await sfu.join("jsep", "carol");
    await waitFor(() => alice.signaling.events("offer").length >= 2, 10_000, "a re-offer after a join");
    await carol.close();
    await waitFor(() => alice.signaling.events("offer").length >= 3, 10_000, "a re-offer after a leave");

    const offers = alice.signaling.events("offer");
    let stopped = 0;
    for (const [n, offer] of offers.entries()) {
      for (const [index, section] of sections(offer.sdp).entries()) {
        expect(section.lines, `offer ${n}, m-section ${index}`).to.include("a=setup:actpass");
        expect(
          section.lines.filter((l) => l.startsWith("a=setup:")),
          `offer ${n}, m-section ${index}`,
        ).to.have.length(1);
        if (section.port !== 0) continue;
        stopped++;
        expect(section.lines, `offer ${n}, stopped m-section ${index}`).to.include("a=rtcp-mux");
      }
    }
    expect(stopped, "carol's stopped m-section in the re-offer after she left").to.be.above(0);
    // The DTLS session survived every re-offer: media still flows both ways.
    alice.startSending();
    bob.startSending();
    await expectEveryoneHearsEveryone([alice, bob]);
  });

  it("a client that refuses any offer breaking JSEP still hears everyone after a third peer joins and one leaves", async () => {
    // The check bites: werift's own re-offer wording is refused.
    expect(
      jsepViolation("v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=setup:active\r\na=rtcp-mux\r\n"),
    ).to.equal("m-section 0 has a=setup:active");
    expect(jsepViolation("v=0\r\nm=audio 0 UDP/TLS/RTP/SAVPF 111\r\na=setup:actpass\r\n")).to.equal(
      "stopped m-section 0 has no a=rtcp-mux",
    );

    const strict = { strictOffers: true };
    const alice = await sfu.join("strict", "alice", strict);
    const bob = await sfu.join("strict", "bob", strict);
    const carol = await sfu.join("strict", "carol", strict);
    for (const client of [alice, bob, carol]) client.startSending();
    await expectEveryoneHearsEveryone([alice, bob, carol]);
    await bob.close();
    await waitFor(
      () => alice.signaling.events("offer").some((o) => sections(o.sdp).some((s) => s.port === 0)),
      10_000,
      "the re-offer that stops bob's m-section",
    );
    await expectEveryoneHearsEveryone([alice, carol]);
    for (const client of [alice, carol]) {
      expect(
        client.refusedOffers.map((r) => r.violation),
        `${client.options.userId}'s refused offers`,
      ).to.deep.equal([]);
      expect(client.signaling.events("offer").length).to.be.at.least(2);
    }
  });
});

/** `sdp` without its candidates: the peer that reads it cannot start ICE checks until they are trickled. */
function withoutCandidates(sdp: string): string {
  return sdp
    .split("\r\n")
    .filter((line) => !line.startsWith("a=candidate:") && line !== "a=end-of-candidates")
    .join("\r\n");
}

/** The candidate lines of `sdp`, each with its m-section's mid, to trickle. */
function candidatesOf(sdp: string): Array<{ candidate: string; sdpMid: string }> {
  return sections(sdp).flatMap(({ lines }) => {
    const sdpMid = lines.find((l) => l.startsWith("a=mid:"))?.slice("a=mid:".length) ?? "";
    return lines.filter((l) => l.startsWith("a=candidate:")).map((l) => ({ candidate: l.slice(2), sdpMid }));
  });
}

/**
 * An answer written as Firefox writes one to a re-offer: the role it keeps in
 * the BUNDLE-tag m-section, and its default `a=setup:active` in the m-sections
 * the offer added.
 */
function firefoxAnswer(sdp: string, addedMids: readonly string[]): string {
  return sdp
    .split(/\r\n(?=m=)/)
    .map((section) =>
      addedMids.some((mid) => section.includes(`\r\na=mid:${mid}\r\n`))
        ? section.replace(/a=setup:\w+/, "a=setup:active")
        : section,
    )
    .join("\r\n");
}

describe("the SFU's DTLS role across its re-offers", () => {
  let sfuPc: RTCPeerConnection;
  let client: RTCPeerConnection;
  /** The SFU's offers, as sent. */
  let offers: SessionDescription[];
  let negotiator: Negotiator;

  beforeEach(() => {
    sfuPc = loopbackPeer();
    client = loopbackPeer();
    offers = [];
    negotiator = new Negotiator({
      pc: sfuPc,
      stepTimeoutMs: 10_000,
      answerTimeoutMs: 10_000,
      sendOffer: (offer) => offers.push(offer) > 0,
      onFailure: (error) => expect.fail(error.message),
      logger: createSilentLogger(),
    });
  });

  afterEach(async () => {
    negotiator.close();
    await Promise.all([sfuPc.close(), client.close()]);
  });

  it("stays the one the first answer took, in werift's description and transport, while the offer sent says actpass", async () => {
    client.addTransceiver("audio", { direction: "sendrecv" });
    await client.setLocalDescription(await client.createOffer());
    const answer = await negotiator.handleOffer(client.localDescription!.sdp);
    expect(answer.sdp).to.include("a=setup:active");
    await client.setRemoteDescription(answer);
    await waitFor(() => sfuPc.connectionState === "connected", 10_000, "DTLS up");
    const dtls = sfuPc.dtlsTransports[0]!;
    expect(dtls.role).to.equal("client");

    sfuPc.addTransceiver("audio", { direction: "sendonly" });
    negotiator.requestNegotiation();
    await waitFor(() => offers.length === 1, 10_000, "the SFU's re-offer");
    expect(jsepViolation(offers[0]!.sdp)).to.equal(undefined);
    expect(sfuPc.localDescription!.sdp, "werift's own description").to.include("a=setup:active");
    await client.setRemoteDescription(offers[0]!);
    await client.setLocalDescription(await client.createAnswer());
    expect(client.localDescription!.sdp, "the client keeps its role").to.include("a=setup:passive");
    await negotiator.handleAnswer(client.localDescription!.sdp);

    expect(sfuPc.dtlsTransports, "one DTLS transport").to.deep.equal([dtls]);
    expect(dtls.role).to.equal("client");
    expect(dtls.state).to.equal("connected");
  });

  it("stays the one negotiated when the answer to a re-offer, applied before DTLS starts, names another in an added m-section (as Firefox writes it)", async () => {
    // No candidates in either description: ICE, and so DTLS, waits until the re-offer is answered.
    client.addTransceiver("audio", { direction: "sendrecv" });
    await client.setLocalDescription(await client.createOffer());
    await waitFor(() => client.iceGatheringState === "complete", 5_000, "the client's candidates");
    const clientCandidates = candidatesOf(client.localDescription!.sdp);
    const answer = await negotiator.handleOffer(withoutCandidates(client.localDescription!.sdp));
    await waitFor(() => sfuPc.iceGatheringState === "complete", 5_000, "the SFU's candidates");
    const sfuCandidates = candidatesOf(sfuPc.localDescription!.sdp);
    await client.setRemoteDescription({ type: "answer", sdp: withoutCandidates(answer.sdp) });

    sfuPc.addTransceiver("audio", { direction: "sendonly" });
    negotiator.requestNegotiation();
    await waitFor(() => offers.length === 1, 10_000, "the SFU's re-offer");
    await client.setRemoteDescription({ type: "offer", sdp: withoutCandidates(offers[0]!.sdp) });
    await client.setLocalDescription(await client.createAnswer());
    const added = sections(offers[0]!.sdp)
      .slice(1)
      .map(({ lines }) => lines.find((l) => l.startsWith("a=mid:"))!.slice("a=mid:".length));
    const reply = firefoxAnswer(withoutCandidates(client.localDescription!.sdp), added);
    expect(sections(reply).map(({ lines }) => lines.find((l) => l.startsWith("a=setup:")))).to.deep.equal([
      "a=setup:passive",
      "a=setup:active",
    ]);
    const dtls = sfuPc.dtlsTransports[0]!;
    expect(dtls.state, "DTLS has not started").to.equal("new");
    await negotiator.handleAnswer(reply);
    expect(dtls.role, "the SFU's DTLS role").to.equal("client");

    for (const candidate of clientCandidates) await sfuPc.addIceCandidate(candidate);
    for (const candidate of sfuCandidates) await client.addIceCandidate(candidate);
    await waitFor(
      () => sfuPc.connectionState === "connected" && client.connectionState === "connected",
      10_000,
      "DTLS up on both sides",
    );
    expect(sfuPc.dtlsTransports, "one DTLS transport").to.deep.equal([dtls]);
  });
});
