import { expect } from "chai";
import { Redis } from "ioredis";
import { expectAllHear } from "../helpers/hear.js";
import { SignalingClient } from "../helpers/SignalingClient.js";
import { sleep, waitFor } from "../helpers/wait.js";
import { useCluster, type NodeRow } from "./useCluster.js";

interface RoomRow {
  roomId: string;
  peers: number;
  nodeId?: string;
}
interface PeerRow {
  peerId: string;
  roomId: string;
  nodeId?: string;
  signalingNodeId?: string;
}

describe("several nodes behind one URL, coordinated through Redis (PROTOCOL §14)", function () {
  this.timeout(90_000);
  const cluster = useCluster();
  const node = (i: number) => cluster.nodes[i]!;

  it("lists every live node on /debug/nodes and its own nodeId on /health", async () => {
    for (const sfu of cluster.nodes) {
      const health = await sfu.get<{ status: string; nodeId: string }>("/health");
      expect(health.body).to.include({ status: "ok", nodeId: sfu.nodeId });
      const { body } = await sfu.get<{ nodes: NodeRow[] }>("/debug/nodes");
      expect(body.nodes.map((row) => row.nodeId).sort()).to.deep.equal(["node-a", "node-b", "node-c"]);
      for (const row of body.nodes) {
        expect(row.load).to.be.within(0, 1);
        expect(Date.now() - row.lastSeen).to.be.below(10_000);
      }
    }
  });

  it("lets clients of one room on three different nodes hear each other, payloads byte-identical", async () => {
    const a = await cluster.join(node(0), "trio", "alice");
    const b = await cluster.join(node(1), "trio", "bob");
    const c = await cluster.join(node(2), "trio", "carol");
    expect(c.joined!.peers.map((peer) => peer.userId).sort()).to.deep.equal(["alice", "bob"]);
    await a.signaling.waitForEvent("user-joined", (m) => m.userId === "carol");
    await b.signaling.waitForEvent("user-joined", (m) => m.userId === "carol");
    await expectAllHear([a, b, c]);

    const owners = new Set<string>();
    for (const sfu of cluster.nodes) {
      const { body } = await sfu.get<{ rooms: RoomRow[] }>("/debug/rooms");
      const rows = body.rooms.filter((room) => room.roomId === "trio");
      expect(rows, `${sfu.nodeId} lists the room once`).to.have.length(1);
      expect(rows[0]!.peers).to.equal(3);
      owners.add(rows[0]!.nodeId!);
    }
    expect([...owners]).to.have.length(1);
    const { body } = await node(2).get<{ peers: PeerRow[] }>("/debug/peers");
    const signaling = Object.fromEntries(
      body.peers.filter((peer) => peer.roomId === "trio").map((peer) => [peer.peerId, peer]),
    );
    expect(signaling[a.peerId]).to.include({ nodeId: [...owners][0], signalingNodeId: "node-a" });
    expect(signaling[b.peerId]).to.include({ signalingNodeId: "node-b" });
    expect(signaling[c.peerId]).to.include({ signalingNodeId: "node-c" });

    await c.signaling.request("leave", { roomId: "trio" });
    for (const other of [a, b]) {
      const left = await other.signaling.waitForEvent("user-left", (m) => m.userId === "carol");
      expect(left.reason).to.equal("leave");
    }
  });

  it("places a new room once when its first two joins arrive on two nodes at the same moment", async () => {
    const [x, y] = await Promise.all([
      cluster.join(node(0), "race", "xavier"),
      cluster.join(node(1), "race", "yvonne"),
    ]);
    await expectAllHear([x, y], 10);
    const rows: RoomRow[] = [];
    for (const sfu of cluster.nodes) {
      const { body } = await sfu.get<{ rooms: RoomRow[] }>("/debug/rooms");
      rows.push(...body.rooms.filter((room) => room.roomId === "race"));
    }
    expect(rows).to.have.length(3);
    expect(new Set(rows.map((row) => row.nodeId)).size).to.equal(1);
    expect(rows[0]!.peers).to.equal(2);
  });

  it("holds MAX_PEERS_PER_ROOM and one session per user across nodes", async () => {
    const first = await cluster.join(node(0), "limits", "u1");
    await cluster.join(node(1), "limits", "u2");
    await cluster.join(node(2), "limits", "u3");
    // The same user through another node: the newer join wins, the older one hears REPLACED.
    const again = await cluster.join(node(1), "limits", "u1");
    const replaced = await first.signaling.waitForEvent("error", (e) => e.code === "REPLACED");
    expect(replaced.code).to.equal("REPLACED");
    expect(again.joined!.peers.map((peer) => peer.userId).sort()).to.deep.equal(["u2", "u3"]);
    await cluster.join(node(2), "limits", "u4");
    const fifth = new SignalingClient(node(0).url);
    try {
      await fifth.connected();
      const ack = await fifth.request("join", { roomId: "limits", userId: "u5" });
      expect(ack.ok).to.equal(false);
      if (!ack.ok) expect(ack.error.code).to.equal("ROOM_FULL");
    } finally {
      fifth.close();
    }
  });

  it("resumes a client whose signaling node died (kill -9) through another node; its audio goes on and nobody sees it leave", async () => {
    const a = await cluster.join(node(0), "resume", "anna");
    const owner = await cluster.ownerOf("resume");
    // Ben signals through a node that is not the room's, and resumes through the third one.
    const [doomed, survivor] = cluster.nodes.filter((sfu) => sfu !== owner);
    const b = await cluster.join(doomed!, "resume", "ben");
    await expectAllHear([a, b], 10);
    const doomedIndex = cluster.nodes.indexOf(doomed!);
    await doomed!.kill("SIGKILL");
    const joined = await b.resumeThrough(survivor!.url);
    expect(joined.resumed).to.equal(true);
    expect(joined.peerId).to.equal(b.peerId);
    // Past the time the room's node needs to notice the dead node (at most 6.5 s).
    await sleep(8000);
    await b.waitForPackets(a.peerId, 25);
    await a.waitForPackets(b.peerId, 25);
    expect(a.signaling.events("user-left")).to.deep.equal([]);
    expect(b.stats(a.peerId)!.corrupt).to.equal(0);
    const { body } = await survivor!.get<{ peers: PeerRow[] }>("/debug/peers");
    expect(body.peers.find((peer) => peer.peerId === b.peerId)).to.include({
      nodeId: owner.nodeId,
      signalingNodeId: survivor!.nodeId,
    });
    // A restarted process may take its NODE_ID again.
    await cluster.restart(doomedIndex);
  });

  it("moves a room whose node died (kill -9): its clients elsewhere hear SHUTTING_DOWN, rejoin and talk again on a live node", async () => {
    const first = await cluster.join(node(0), "orphan", "ann");
    const owner = await cluster.ownerOf("orphan");
    const ownerIndex = cluster.nodes.indexOf(owner);
    const elsewhere = cluster.nodes.filter((sfu) => sfu !== owner);
    const b = await cluster.join(elsewhere[0]!, "orphan", "bo");
    const c = await cluster.join(elsewhere[1]!, "orphan", "cy");
    const members = [first, b, c];
    await expectAllHear(members, 10);

    const killedAt = Date.now();
    await owner.kill("SIGKILL");
    // What the SDK does: on SHUTTING_DOWN (or a socket that dropped), join again as a new session.
    const rejoined = await Promise.all(
      members.map(async (client, i) => {
        const signaledByOwner = client === first && cluster.nodes.indexOf(owner) === 0;
        if (signaledByOwner) {
          await waitFor(() => client.signaling.socket.disconnected, 10_000, "the socket to drop");
        } else {
          const notice = await client.signaling.waitForEvent(
            "error",
            (e) => e.code === "SHUTTING_DOWN",
            10_000,
          );
          expect(notice.code).to.equal("SHUTTING_DOWN");
        }
        const noticedAfter = Date.now() - killedAt;
        await client.close();
        const again = await cluster.join(elsewhere[i % 2]!, "orphan", client.options.userId);
        return { again, noticedAfter };
      }),
    );
    const clients = rejoined.map(({ again }) => again);
    await expectAllHear(clients, 10);
    const talkingAfter = Date.now() - killedAt;
    console.log(
      `      noticed after ${rejoined.map(({ noticedAfter }) => noticedAfter).join(", ")} ms; talking again after ${talkingAfter} ms`,
    );
    for (const { noticedAfter } of rejoined) expect(noticedAfter).to.be.below(10_000);
    expect(talkingAfter).to.be.below(10_000);
    const newOwner = await cluster.ownerOf("orphan", elsewhere[0]);
    expect(newOwner.nodeId).to.not.equal(owner.nodeId);
    // A restarted process may take its NODE_ID again; Redis held nothing for it any more.
    await cluster.restart(ownerIndex);
  });

  it("discards what Redis held for a room's node that restarts at once under the same NODE_ID", async () => {
    const first = await cluster.join(node(0), "reborn", "ann");
    const owner = await cluster.ownerOf("reborn");
    const ownerIndex = cluster.nodes.indexOf(owner);
    const other = cluster.nodes.find((sfu) => sfu !== owner)!;
    const b = await cluster.join(other, "reborn", "bo");
    await expectAllHear([first, b], 5);
    await owner.kill("SIGKILL");
    const killedAt = Date.now();
    // Back before its registration expired: the others tell the new process from the old one.
    await cluster.restart(ownerIndex);
    await b.signaling.waitForEvent("error", (e) => e.code === "SHUTTING_DOWN", 10_000);
    const noticedAfter = Date.now() - killedAt;
    const redis = new Redis(cluster.redis.url);
    try {
      expect(await redis.get("sfu:room:reborn"), "the old process's room is no longer placed").to.equal(null);
    } finally {
      redis.disconnect();
    }
    await Promise.all([first.close(), b.close()]);
    const again = [
      await cluster.join(other, "reborn", "ann"),
      await cluster.join(node(ownerIndex), "reborn", "bo"),
    ];
    await expectAllHear(again, 10);
    console.log(`      SHUTTING_DOWN ${noticedAfter} ms after the kill, the restart included`);
  });

  it("answers a relayed join with a clear error when the room's node does not answer, and ends what it relayed once it is back", async () => {
    const first = await cluster.join(node(0), "paused", "ann");
    const owner = await cluster.ownerOf("paused");
    const other = cluster.nodes.find((sfu) => sfu !== owner && sfu !== node(0))!;
    const b = await cluster.join(other, "paused", "bo");
    await expectAllHear([first, b], 5);
    owner.pause(true);
    try {
      const late = new SignalingClient(other.url);
      try {
        await late.connected();
        const ack = await late.request("join", { roomId: "paused", userId: "cy" }, 15_000);
        expect(ack.ok).to.equal(false);
        if (!ack.ok) {
          expect(ack.error.code).to.equal("INTERNAL");
          expect(ack.error.message).to.equal(`node ${owner.nodeId} did not answer join within 5000 ms`);
        }
      } finally {
        late.close();
      }
      // Its registration expires: the others take it for dead and tell its rooms' members to rejoin.
      await b.signaling.waitForEvent("error", (e) => e.code === "SHUTTING_DOWN", 10_000);
    } finally {
      owner.pause(false);
    }
    // Back, it learns it was taken for dead and ends the session the others told to rejoin.
    await waitFor(
      async () => {
        const { body } = await owner.get<{ peers: PeerRow[] }>("/debug/peers");
        return !body.peers.some((peer) => peer.peerId === b.peerId);
      },
      10_000,
      "the paused node to end the relayed session",
    );
    await cluster.settled();
  });

  it("keeps rooms forwarding and nodes up while Redis is down, refusing new joins with a clear error, and recovers when it is back", async () => {
    const a = await cluster.join(node(0), "outage", "ann");
    const owner = await cluster.ownerOf("outage");
    const other = cluster.nodes.find((sfu) => sfu !== owner)!;
    const b = await cluster.join(other, "outage", "bo");
    await expectAllHear([a, b], 10);

    await cluster.redis.stop();
    const before = [a.packetsFrom(b.peerId), b.packetsFrom(a.peerId)];
    await sleep(3000);
    // 50 packets a second each way: most of 3 s worth arrived with Redis gone.
    expect(a.packetsFrom(b.peerId) - before[0]!).to.be.above(100);
    expect(b.packetsFrom(a.peerId) - before[1]!).to.be.above(100);
    expect(a.stats(b.peerId)!.corrupt + b.stats(a.peerId)!.corrupt).to.equal(0);
    for (const sfu of cluster.nodes) expect((await sfu.get("/health")).status).to.equal(200);

    const late = new SignalingClient(node(2).url);
    try {
      await late.connected();
      const asked = Date.now();
      const ack = await late.request("join", { roomId: "outage-new", userId: "late" }, 8000);
      expect(Date.now() - asked, "answered, not left hanging").to.be.below(5000);
      expect(ack.ok).to.equal(false);
      if (!ack.ok)
        expect(ack.error).to.deep.equal({ code: "INTERNAL", message: "cluster state unavailable" });
    } finally {
      late.close();
    }
    for (const sfu of cluster.nodes) expect(sfu.alive, `${sfu.nodeId} still runs`).to.equal(true);

    const restartedAt = Date.now();
    await cluster.redis.restart();
    await cluster.settled(restartedAt);
    const registeredAfter = Date.now() - restartedAt;
    expect(registeredAfter, "nodes registered again").to.be.below(10_000);
    // The running room is placed again on its node: a join through a third node lands in it.
    const third = cluster.nodes.find((sfu) => sfu !== owner && sfu !== other)!;
    const c = await cluster.join(third, "outage", "cy");
    expect(c.joined!.peers.map((peer) => peer.userId).sort()).to.deep.equal(["ann", "bo"]);
    await expectAllHear([a, b, c], 10);
    const fresh = await cluster.join(node(1), "outage-new", "late");
    expect(fresh.joined!.resumed).to.equal(false);
    console.log(`      nodes registered again ${registeredAfter} ms after Redis came back`);
  });

  it("notices a room's node that died (kill -9) while Redis was down within 10 s of Redis's return: its clients elsewhere hear SHUTTING_DOWN and talk again", async () => {
    const first = await cluster.join(node(0), "blind", "ann");
    const owner = await cluster.ownerOf("blind");
    const ownerIndex = cluster.nodes.indexOf(owner);
    const elsewhere = cluster.nodes.filter((sfu) => sfu !== owner);
    const b = await cluster.join(elsewhere[0]!, "blind", "bo");
    const c = await cluster.join(elsewhere[1]!, "blind", "cy");
    await expectAllHear([first, b, c], 10);

    await cluster.redis.stop();
    await owner.kill("SIGKILL");
    // With Redis gone no node can tell a dead node from a silent Redis.
    await sleep(3000);
    for (const client of [b, c])
      expect(client.signaling.events("error"), `${client.options.userId} during the outage`).to.deep.equal(
        [],
      );

    const restartedAt = Date.now();
    await cluster.redis.restart();
    const noticedAfter = await Promise.all(
      [b, c].map(async (client) => {
        await client.signaling.waitForEvent("error", (e) => e.code === "SHUTTING_DOWN", 15_000);
        return Date.now() - restartedAt;
      }),
    );
    console.log(`      SHUTTING_DOWN ${noticedAfter.join(", ")} ms after Redis came back`);
    for (const ms of noticedAfter) expect(ms).to.be.below(10_000);
    const rejoined = await Promise.all(
      [b, c].map(async (client, i) => {
        await client.close();
        return cluster.join(elsewhere[i]!, "blind", client.options.userId);
      }),
    );
    await expectAllHear(rejoined, 10);
    const newOwner = await cluster.ownerOf("blind", elsewhere[0]);
    expect(newOwner.nodeId).to.not.equal(owner.nodeId);
    await cluster.restart(ownerIndex);
  });

  it("drains a node on SIGTERM: its rooms' members elsewhere hear SHUTTING_DOWN, and Redis keeps nothing of it", async () => {
    const first = await cluster.join(node(0), "drain", "ann");
    const owner = await cluster.ownerOf("drain");
    const ownerIndex = cluster.nodes.indexOf(owner);
    const other = cluster.nodes.find((sfu) => sfu !== owner)!;
    const b = await cluster.join(other, "drain", "bo");
    await expectAllHear([first, b], 5);
    const stoppedAt = Date.now();
    const exit = await owner.kill("SIGTERM");
    expect(exit.code).to.equal(0);
    await b.signaling.waitForEvent("error", (e) => e.code === "SHUTTING_DOWN", 5000);
    // Deregistered on the way out, not left to expire: Redis holds nothing of the node.
    const redis = new Redis(cluster.redis.url);
    try {
      expect(await redis.exists(`sfu:node:${owner.nodeId}`, `sfu:node-rooms:${owner.nodeId}`)).to.equal(0);
      expect(await redis.sismember("sfu:nodes", owner.nodeId)).to.equal(0);
      expect(await redis.get("sfu:room:drain")).to.equal(null);
    } finally {
      redis.disconnect();
    }
    await waitFor(
      async () =>
        !(await other.get<{ nodes: NodeRow[] }>("/debug/nodes")).body.nodes.some(
          (row) => row.nodeId === owner.nodeId,
        ),
      3000,
      "the drained node to leave /debug/nodes",
    );
    // Its room is free at once: a join places it on a live node.
    await b.close();
    const again = await cluster.join(other, "drain", "bo");
    const placed = await cluster.ownerOf("drain", other);
    expect(placed.nodeId).to.not.equal(owner.nodeId);
    expect(again.joined!.resumed).to.equal(false);
    console.log(`      SIGTERM to a free room: ${Date.now() - stoppedAt} ms`);
    await cluster.restart(ownerIndex);
  });
});
