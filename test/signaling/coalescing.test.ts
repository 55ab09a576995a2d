import { expect } from "chai";
import { useSfu } from "../helpers/fixture.js";
import type { MediaClient } from "../helpers/MediaClient.js";
import { waitFor } from "../helpers/wait.js";

/** The m-lines of an SDP, in order. */
function mLines(sdp: string): string[] {
  return sdp.split(/\r?\n/).filter((line) => line.startsWith("m="));
}

/**
 * Every receiver hears every other client, byte-identical, on exactly one
 * track per source named by its peerId (besides tracks of `departed` peers).
 */
async function expectEveryoneHearsEveryone(clients: MediaClient[], departed: string[] = []): Promise<void> {
  for (const receiver of clients) {
    const others = clients.filter((c) => c !== receiver);
    for (const source of others) {
      await waitFor(
        () => receiver.packetsFrom(source.peerId) >= 10,
        10_000,
        `10 packets from ${source.options.userId} at ${receiver.options.userId}`,
      );
      const stats = receiver.stats(source.peerId)!;
      const pair = `${receiver.options.userId} <- ${source.options.userId}`;
      expect(stats.corrupt, `${pair} corrupt`).to.equal(0);
      expect([...stats.sources], pair).to.deep.equal([source.options.userId]);
    }
    expect(receiver.packetsFrom(receiver.peerId), "own audio is not echoed").to.equal(0);
    const tracks = receiver.trackStreams.filter((id) => !departed.includes(id));
    expect(tracks, `${receiver.options.userId}'s forwarded tracks`).to.have.members(
      others.map((c) => c.peerId),
    );
  }
}

describe("SFU offers when a room fills", function () {
  this.timeout(60_000);
  const sfu = useSfu();

  it("sends each peer already there far fewer offers than a burst has joins, and everyone all audio", async () => {
    const first = await sfu.join("burst", "first");
    const second = await sfu.join("burst", "second");
    await waitFor(
      () => first.trackStreams.length === 1 && second.trackStreams.length === 1,
      10_000,
      "the first two peers to get each other's track",
    );
    await Promise.all([first.settled(), second.settled()]);
    const offersBefore = [first, second].map((c) => c.signaling.events("offer").length);

    const joins = 8;
    const burst = await Promise.all(
      Array.from({ length: joins }, (_, i) => sfu.join("burst", `burst-${i}`, { negotiate: false })),
    );
    // The newcomers' offers reach the SFU together, as in a meeting that starts.
    await Promise.all(burst.map((c) => c.offer()));
    const everyone = [first, second, ...burst];
    for (const c of everyone) c.startSending();
    await expectEveryoneHearsEveryone(everyone);

    for (const [i, receiver] of [first, second].entries()) {
      const offers = receiver.signaling.events("offer").slice(offersBefore[i]);
      expect(offers.length, `offers to ${receiver.options.userId} for ${joins} joins`).to.be.within(1, 3);
      // The last offer carries every newcomer: own m-line, the other early peer, eight forwarded tracks.
      expect(mLines(offers.at(-1)!.sdp)).to.have.length(2 + joins);
    }
  });

  it("puts a newcomer's track in the m-section a leaver's track left, so offers do not grow", async () => {
    const alice = await sfu.join("reuse", "alice");
    const bob = await sfu.join("reuse", "bob");
    const carol = await sfu.join("reuse", "carol");
    for (const c of [alice, bob, carol]) c.startSending();
    await alice.waitForPackets(carol.peerId, 10);
    await alice.settled();
    const offersBefore = alice.signaling.events("offer").length;

    expect(await carol.signaling.request("leave", { roomId: "reuse" })).to.deep.equal({ ok: true });
    await waitFor(() => alice.signaling.events("offer").length > offersBefore, 10_000, "the leave's offer");
    const leaveOffer = alice.signaling.events("offer").at(-1)!;
    const stopped = mLines(leaveOffer.sdp).findIndex((line) => /^m=audio 0 /.test(line));
    expect(stopped, "carol's m-section is stopped (port 0)").to.be.above(0);
    // The stop is negotiated once alice's answer is applied; only then may the m-section be reused.
    await alice.settled();

    const dave = await sfu.join("reuse", "dave");
    dave.startSending();
    await waitFor(
      () => alice.signaling.events("offer").some((o) => o.sdp.includes(`msid:${dave.peerId} `)),
      10_000,
      "an offer with dave's track",
    );
    const joinOffer = alice.signaling.events("offer").find((o) => o.sdp.includes(`msid:${dave.peerId} `))!;
    const lines = mLines(joinOffer.sdp);
    expect(lines, "m-line count").to.have.length(mLines(leaveOffer.sdp).length);
    expect(lines[stopped], "dave's track in carol's old m-section").to.match(/^m=audio [1-9]\d* /);
    const sections = joinOffer.sdp.split(/\r?\n(?=m=)/).slice(1);
    expect(sections[stopped]).to.include(`msid:${dave.peerId} `);

    await expectEveryoneHearsEveryone([alice, bob, dave], [carol.peerId]);
    const carolTracks = alice.trackStreams.filter((id) => id === carol.peerId);
    expect(carolTracks, "carol's old track is gone, not duplicated").to.have.length(1);
  });
});
