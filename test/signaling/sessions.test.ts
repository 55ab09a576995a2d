import { expect } from "chai";
import type { Socket } from "socket.io-client";
import type { AckResult, JoinedMessage } from "../../lib/protocol.js";
import { useSfu } from "../helpers/fixture.js";
import { SignalingClient } from "../helpers/SignalingClient.js";
import { sleep, waitFor } from "../helpers/wait.js";

// The same sessions with forwarding in the main thread and in worker threads, where every step crosses threads.
for (const workers of ["0", "2"]) {
  describe(`sessions across socket loss, duplicate users and glare (SFU_WORKERS=${workers})`, function () {
    this.timeout(60_000);
    const sfu = useSfu({ RECONNECT_GRACE_MS: "1500", SFU_WORKERS: workers });
    const join = sfu.join.bind(sfu);

    it("removes a peer whose socket dropped without leave once the grace period ends", async () => {
      const alice = await join("grace", "alice");
      const bob = await join("grace", "bob");
      bob.signaling.socket.disconnect();
      await sleep(1000);
      expect(alice.signaling.events("user-left"), "nothing during the grace period").to.be.empty;
      expect(sfu.server.application.sfu.peerCount).to.equal(2);
      const left = await alice.signaling.waitForEvent("user-left", () => true, 5000);
      expect(left).to.deep.equal({
        roomId: "grace",
        peerId: bob.peerId,
        userId: "bob",
        reason: "disconnect",
      });
      expect(sfu.server.application.sfu.peerCount).to.equal(1);
    });

    it("keeps a session whose resume is taken just as its grace period runs out", async () => {
      // A longer grace than the suite's, so that a loaded machine still blocks before it ends, not after.
      await sfu.restart({ RECONNECT_GRACE_MS: "3000" });
      const alice = await join("late", "alice");
      const bob = await join("late", "bob");
      const back = await sfu.connect();
      // Bob's old socket is dropped on purpose: a request of his still in flight can only time out.
      bob.tolerate = /not acked|timed out|socket has been disconnected/;
      bob.signaling.socket.disconnect();
      const detached = async () => {
        const { rooms } = await sfu.server.application.sfu.state();
        return rooms.flatMap((room) => room.peers).find((peer) => peer.peerId === bob.peerId)?.detached;
      };
      await waitFor(detached, 5000, "bob's session to be detached");
      const resume = { roomId: "late", userId: "bob", resumeToken: bob.joined!.resumeToken };
      const acked = new Promise<AckResult<{ joined?: JoinedMessage }>>((resolve) => {
        // A busy main thread: the grace period ends while it cannot run, and the resume (already on the
        // wire) is the first thing it takes up, since this timer phase ran with the time it began with.
        // With forwarding workers, the worker thread ran on meanwhile.
        setTimeout(() => {
          (back.socket as unknown as Socket).emit("join", resume, resolve);
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 3500);
        }, 0);
      });
      const ack = await acked;
      expect(ack.ok, JSON.stringify(ack)).to.equal(true);
      const joined = (ack as { joined: JoinedMessage }).joined;
      expect(joined.resumed, "resumed, not a new session").to.equal(true);
      expect(joined.peerId).to.equal(bob.peerId);

      await sleep(1000);
      expect(await detached()).to.equal(false);
      expect(alice.signaling.events("user-left")).to.be.empty;
      expect(sfu.server.application.sfu.peerCount).to.equal(2);
    });

    it("resumes a session on a new socket with the same peerId, no user-left, audio still flowing", async () => {
      const alice = await join("resume", "alice");
      const bob = await join("resume", "bob");
      alice.startSending();
      bob.startSending();
      await bob.waitForPackets(alice.peerId, 25);

      bob.signaling.socket.disconnect();
      await sleep(300);
      bob.signaling.socket.connect();
      await bob.signaling.connected();
      const ack = await bob.signaling.request("join", {
        roomId: "resume",
        userId: "bob",
        resumeToken: bob.joined!.resumeToken,
      });
      expect(ack.ok).to.equal(true);
      const joined = (
        ack as unknown as { joined: { peerId: string; resumed: boolean; peers: Array<{ peerId: string }> } }
      ).joined;
      expect(joined.resumed).to.equal(true);
      expect(joined.peerId).to.equal(bob.peerId);
      expect(joined.peers.map((p) => p.peerId)).to.deep.equal([alice.peerId]);

      await bob.waitForPackets(alice.peerId, 25);
      await alice.waitForPackets(bob.peerId, 25);
      await sleep(2000);
      expect(alice.signaling.events("user-left")).to.be.empty;
      expect(alice.signaling.events("user-joined").map((m) => m.userId)).to.deep.equal(["bob"]);
    });

    it("on resume sends joined and the join ack before the SFU offer the client had missed", async () => {
      const alice = await join("order", "alice");
      alice.holdOffers = true;
      await join("order", "bob");
      await waitFor(() => alice.heldOffers.length > 0, 10_000, "the SFU's offer to alice");
      alice.signaling.close();
      await sleep(300);

      const back = new SignalingClient(sfu.server.url);
      try {
        await back.connected();
        const order: string[] = [];
        back.socket.onAny((event: string) => order.push(event));
        const resume = { roomId: "order", userId: "alice", resumeToken: alice.joined!.resumeToken };
        // The ack callback runs as its packet arrives, so the order seen here is the order on the wire.
        (back.socket as unknown as Socket).emit("join", resume, (ack: { ok: boolean }) =>
          order.push(ack.ok ? "ack" : "refused"),
        );
        await waitFor(() => order.includes("offer"), 10_000, "the offer again");
        expect(order.filter((e) => ["joined", "ack", "refused", "offer"].includes(e))).to.deep.equal([
          "joined",
          "ack",
          "offer",
        ]);
      } finally {
        back.close();
      }
    });

    it("treats a wrong resume token as a new session", async () => {
      const alice = await join("stale", "alice");
      await join("stale", "carol", { publish: false });
      const ack = await alice.signaling.request("leave", { roomId: "stale" });
      expect(ack.ok).to.equal(true);
      const again = await alice.signaling.request("join", {
        roomId: "stale",
        userId: "alice",
        resumeToken: "not-a-token",
      });
      expect(again.ok).to.equal(true);
      const joined = (again as unknown as { joined: { peerId: string; resumed: boolean } }).joined;
      expect(joined.resumed).to.equal(false);
      expect(joined.peerId).to.not.equal(alice.peerId);
    });

    it("replaces an older peer of the same user: REPLACED to it, user-left 'replaced' to the room", async () => {
      const alice = await join("dup", "alice");
      const first = await join("dup", "bob");
      const second = await join("dup", "bob");
      const error = await first.signaling.waitForEvent("error");
      expect(error.code).to.equal("REPLACED");
      const left = await alice.signaling.waitForEvent("user-left");
      expect(left).to.deep.equal({ roomId: "dup", peerId: first.peerId, userId: "bob", reason: "replaced" });
      const rest = sfu.server.application.sfu.getRoom("dup")!.peers.map((p) => p.id);
      expect(rest).to.have.members([alice.peerId, second.peerId]);
    });

    it("resolves glare: a client offer during the SFU's offer ends stable with audio flowing", async () => {
      const alice = await join("glare", "alice");
      alice.holdOffers = true;
      const bob = await join("glare", "bob");
      bob.startSending();
      await waitFor(() => alice.heldOffers.length > 0, 5000, "SFU offer to alice");
      expect(alice.pc.signalingState).to.equal("stable");

      // alice offers while the SFU's offer is outstanding; the SFU rolls back and answers.
      alice.heldOffers.splice(0);
      alice.holdOffers = false;
      await alice.offer();
      await alice.waitForPackets(bob.peerId, 25);
      await waitFor(() => alice.pc.signalingState === "stable", 5000, "stable");
      expect(alice.stats(bob.peerId)!.corrupt).to.equal(0);
    });

    it("answers an ICE-restart offer and keeps audio flowing", async () => {
      const alice = await join("restart", "alice");
      const bob = await join("restart", "bob");
      alice.startSending();
      await bob.waitForPackets(alice.peerId, 10);
      const sfuUfrag = () => /a=ice-ufrag:(\S+)/.exec(bob.pc.remoteDescription?.sdp ?? "")?.[1];
      const ufrag = sfuUfrag();
      await bob.offer({ iceRestart: true });
      const after = sfuUfrag();
      expect(after).to.be.a("string").and.not.equal(ufrag);
      await bob.waitForPackets(alice.peerId, 25);
    });
  });
}
