import { expect } from "chai";
import { useSfu } from "../helpers/fixture.js";
import { sleep, waitFor } from "../helpers/wait.js";

describe("audio forwarding between werift peers", function () {
  this.timeout(60_000);
  const sfu = useSfu();
  const join = sfu.join.bind(sfu);

  it("gives each of three peers both others' audio, byte-identical, under the source's peerId", async () => {
    const alice = await join("room-1", "alice");
    const bob = await join("room-1", "bob");
    const carol = await join("room-1", "carol");
    for (const c of [alice, bob, carol]) c.startSending();

    for (const receiver of [alice, bob, carol]) {
      for (const source of [alice, bob, carol]) {
        if (source === receiver) continue;
        await receiver.waitForPackets(source.peerId, 50);
        const stats = receiver.stats(source.peerId)!;
        expect(stats.corrupt, `${receiver.options.userId} <- ${source.options.userId} corrupt`).to.equal(0);
        expect([...stats.sources]).to.deep.equal([source.options.userId]);
      }
      expect(receiver.packetsFrom(receiver.peerId), "own audio is not echoed").to.equal(0);
      expect(receiver.trackStreams).to.have.members(
        [alice, bob, carol].filter((c) => c !== receiver).map((c) => c.peerId),
      );
    }
  });

  it("keeps sequence numbers continuous for each receiver", async () => {
    const alice = await join("room-seq", "alice");
    const bob = await join("room-seq", "bob");
    alice.startSending();
    await bob.waitForPackets(alice.peerId, 100);
    expect(bob.stats(alice.peerId)!.seqJumps).to.equal(0);
  });

  it("sends a late joiner everyone already there, and them the late joiner", async () => {
    const alice = await join("room-late", "alice");
    const bob = await join("room-late", "bob");
    alice.startSending();
    bob.startSending();
    await bob.waitForPackets(alice.peerId, 10);
    const dave = await join("room-late", "dave");
    dave.startSending();
    expect(dave.joined!.peers.map((p) => p.userId)).to.have.members(["alice", "bob"]);
    await dave.waitForPackets(alice.peerId, 25);
    await dave.waitForPackets(bob.peerId, 25);
    await alice.waitForPackets(dave.peerId, 25);
    await bob.waitForPackets(dave.peerId, 25);
    const joinedEvent = await alice.signaling.waitForEvent("user-joined", (m) => m.userId === "dave");
    expect(joinedEvent).to.deep.equal({
      roomId: "room-late",
      peerId: dave.peerId,
      userId: "dave",
      muted: false,
      serverMuted: false,
      deafened: false,
    });
  });

  it("stops a leaver's audio everywhere, announces user-left and renegotiates the track away", async () => {
    const alice = await join("room-leave", "alice");
    const bob = await join("room-leave", "bob");
    const carol = await join("room-leave", "carol");
    for (const c of [alice, bob, carol]) c.startSending();
    await alice.waitForPackets(carol.peerId, 25);
    const offersBefore = alice.signaling.events("offer").length;

    const ack = await carol.signaling.request("leave", { roomId: "room-leave" });
    expect(ack).to.deep.equal({ ok: true });
    for (const other of [alice, bob]) {
      const left = await other.signaling.waitForEvent("user-left", (m) => m.peerId === carol.peerId);
      expect(left).to.deep.equal({
        roomId: "room-leave",
        peerId: carol.peerId,
        userId: "carol",
        reason: "leave",
      });
    }
    await waitFor(() => alice.signaling.events("offer").length > offersBefore, 5000, "renegotiation offer");
    const offer = alice.signaling.events("offer").at(-1)!;
    expect(offer.sdp).to.not.include(`msid:${carol.peerId}`);
    await sleep(300);
    const count = alice.packetsFrom(carol.peerId);
    await sleep(500);
    expect(alice.packetsFrom(carol.peerId), "no audio after leave").to.equal(count);
    await alice.waitForPackets(bob.peerId, 25);
    await waitFor(
      () => alice.pc.signalingState === "stable" && alice.signaling.events("offer").length > offersBefore,
    );
  });

  it("keeps two rooms isolated", async () => {
    const a1 = await join("room-a", "alice");
    const a2 = await join("room-a", "bob");
    const b1 = await join("room-b", "carol");
    const b2 = await join("room-b", "dave");
    for (const c of [a1, a2, b1, b2]) c.startSending();
    await a1.waitForPackets(a2.peerId, 25);
    await b1.waitForPackets(b2.peerId, 25);
    expect([...a1.received.keys()]).to.deep.equal([a2.peerId]);
    expect([...b1.received.keys()]).to.deep.equal([b2.peerId]);
    expect(a1.signaling.events("user-joined").map((m) => m.userId)).to.deep.equal(["bob"]);
    expect(b1.signaling.events("user-joined").map((m) => m.userId)).to.deep.equal(["dave"]);
  });

  it("lets a listen-only client receive without publishing", async () => {
    const alice = await join("room-listen", "alice");
    const listener = await join("room-listen", "listener", { publish: false });
    alice.startSending();
    await listener.waitForPackets(alice.peerId, 25);
    const { body } = { body: sfu.server.service.getRoom("room-listen")!.snapshot() };
    expect(body.tracks).to.have.length(1);
  });
});
