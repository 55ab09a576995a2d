import { expect } from "chai";
import type { PeerSnapshot } from "../../lib/types.js";
import type { MediaClient } from "../helpers/MediaClient.js";
import { sleep } from "../helpers/wait.js";
import type { SfuNode } from "./SfuNode.js";
import { useCluster } from "./useCluster.js";

/** RFC 6464 levels in -dBov: speech well over the -35 dBov threshold, and silence. */
const LOUD = 10;
const SILENT = 127;

interface AdminAnswer {
  ok?: boolean;
  peer?: PeerSnapshot & { nodeId?: string };
  error?: string;
}

/** Packets `receiver` got from `source` over `ms`, after letting packets in flight land. */
async function packetsOver(receiver: MediaClient, source: MediaClient, ms: number): Promise<number> {
  await sleep(300);
  const before = receiver.packetsFrom(source.peerId);
  await sleep(ms);
  return receiver.packetsFrom(source.peerId) - before;
}

describe("room control across nodes (PROTOCOL §12 with §14)", function () {
  this.timeout(90_000);
  const cluster = useCluster();

  /**
   * A room placed on one node, with alice signaled through a second node and
   * bob through the third: neither socket is on the room's node.
   */
  async function spreadRoom(roomId: string) {
    const host = await cluster.join(cluster.nodes[0]!, roomId, "host", { audioLevel: SILENT });
    const owner = await cluster.ownerOf(roomId);
    const [nodeA, nodeB] = cluster.nodes.filter((node) => node !== owner) as [SfuNode, SfuNode];
    const alice = await cluster.join(nodeA, roomId, "alice", { audioLevel: LOUD });
    const bob = await cluster.join(nodeB, roomId, "bob", { audioLevel: SILENT });
    await host.signaling.waitForEvent("user-joined", (m) => m.userId === "bob");
    await alice.signaling.waitForEvent("user-joined", (m) => m.userId === "bob");
    return { owner, nodeA, nodeB, host, alice, bob };
  }

  it("relays a self-mute as peer-updated and active-speakers to members signaled through other nodes, and joins see the real mute state", async () => {
    const { nodeA, nodeB, host, alice, bob } = await spreadRoom("ctl");
    expect(await alice.signaling.request("mute", { muted: true })).to.deep.equal({ ok: true });
    const update = { roomId: "ctl", peerId: alice.peerId, muted: true, serverMuted: false, deafened: false };
    for (const client of [alice, bob, host])
      expect(await client.signaling.waitForEvent("peer-updated")).to.deep.equal(update);

    // A join through either non-owning node lists alice as muted (the mirrored state, not a placeholder).
    for (const [node, userId] of [
      [nodeA, "carol"],
      [nodeB, "dave"],
    ] as const) {
      const late = await cluster.join(node, "ctl", userId, { audioLevel: SILENT });
      const row = late.joined!.peers.find((peer) => peer.peerId === alice.peerId);
      expect(row, `${userId} through ${node.nodeId}`).to.include({ muted: true, serverMuted: false });
      await late.signaling.request("leave", { roomId: "ctl" });
      // The room holds four: the next join waits for this one to be gone.
      await bob.signaling.waitForEvent("user-left", (m) => m.userId === userId);
    }

    expect(await alice.signaling.request("mute", { muted: false })).to.deep.equal({ ok: true });
    await bob.signaling.waitForEvent("peer-updated", (m) => m.peerId === alice.peerId && !m.muted);
    for (const client of [alice, bob, host]) client.startSending();
    for (const client of [alice, bob]) {
      const speakers = await client.signaling.waitForEvent(
        "active-speakers",
        (m) => m.speakers.some((speaker) => speaker.peerId === alice.peerId),
        10_000,
      );
      expect(speakers.roomId).to.equal("ctl");
      expect(speakers.speakers.map((speaker) => speaker.peerId)).to.deep.equal([alice.peerId]);
      expect(speakers.speakers[0]!.level).to.be.closeTo(10 ** (-LOUD / 20), 0.02);
    }
    // Muted again, alice leaves the speaker list on both nodes.
    await alice.signaling.request("mute", { muted: true });
    for (const client of [alice, bob])
      await client.signaling.waitForEvent("active-speakers", (m) => m.speakers.length === 0, 10_000);
  });

  it("kicks through a node that holds neither the room nor the peer's socket: KICKED to it, user-left to the others", async () => {
    const { nodeB, host, alice, bob } = await spreadRoom("kick");
    const { status, body } = await nodeB.send<AdminAnswer>(
      "DELETE",
      `/admin/rooms/kick/peers/${alice.peerId}`,
    );
    expect(status).to.equal(200);
    expect(body.ok).to.equal(true);
    expect(body.peer).to.include({ peerId: alice.peerId, userId: "alice" });
    expect(await alice.signaling.waitForEvent("error")).to.include({ code: "KICKED" });
    for (const client of [bob, host])
      expect(await client.signaling.waitForEvent("user-left")).to.deep.equal({
        roomId: "kick",
        peerId: alice.peerId,
        userId: "alice",
        reason: "kicked",
      });
    const again = await nodeB.send<AdminAnswer>("DELETE", `/admin/rooms/kick/peers/${alice.peerId}`);
    expect(again.status).to.equal(404);
    expect(again.body.error).to.equal(`peer ${alice.peerId} not found in room kick`);
  });

  it("server-mutes through a third node: forwarding stops, every member hears of it, the answer has the room node's row", async () => {
    const { owner, nodeA, host, alice, bob } = await spreadRoom("mod");
    for (const client of [alice, bob, host]) client.startSending();
    await alice.waitForPackets(bob.peerId, 25);
    // Bob's socket is on nodeB, the room on the owner: nodeA holds neither.
    const { status, body } = await nodeA.send<AdminAnswer>(
      "POST",
      `/admin/rooms/mod/peers/${bob.peerId}/mute`,
      {
        muted: true,
      },
    );
    expect(status).to.equal(200);
    expect(body.peer).to.include({
      peerId: bob.peerId,
      serverMuted: true,
      muted: false,
      nodeId: owner.nodeId,
    });
    const update = { roomId: "mod", peerId: bob.peerId, muted: false, serverMuted: true, deafened: false };
    for (const client of [alice, bob, host])
      expect(await client.signaling.waitForEvent("peer-updated")).to.deep.equal(update);
    expect(await packetsOver(alice, bob, 1000), "a server-muted peer's packets").to.equal(0);
    expect(await packetsOver(alice, host, 1000)).to.be.greaterThan(20);

    await nodeA.send("POST", `/admin/rooms/mod/peers/${bob.peerId}/mute`, { muted: false });
    await alice.signaling.waitForEvent("peer-updated", (m) => m.peerId === bob.peerId && !m.serverMuted);
    expect(await packetsOver(alice, bob, 1000)).to.be.greaterThan(20);

    // Deafen goes the same way: bob stops receiving, and everyone hears of it.
    const deafen = await nodeA.send<AdminAnswer>("POST", `/admin/rooms/mod/peers/${bob.peerId}/deafen`, {
      deafened: true,
    });
    expect(deafen.status).to.equal(200);
    expect(deafen.body.peer).to.include({ peerId: bob.peerId, deafened: true, nodeId: owner.nodeId });
    const deafened = { roomId: "mod", peerId: bob.peerId, muted: false, serverMuted: false, deafened: true };
    for (const client of [alice, bob, host])
      expect(await client.signaling.waitForEvent("peer-updated", (m) => m.deafened)).to.deep.equal(deafened);
    expect(await packetsOver(bob, alice, 1000), "packets a deafened peer gets").to.equal(0);
    expect(await packetsOver(host, alice, 1000)).to.be.greaterThan(20);
    await nodeA.send("POST", `/admin/rooms/mod/peers/${bob.peerId}/deafen`, { deafened: false });
    await bob.signaling.waitForEvent("peer-updated", (m) => m.peerId === bob.peerId && !m.deafened);
    expect(await packetsOver(bob, alice, 1000)).to.be.greaterThan(20);

    const nowhere = await nodeA.send<AdminAnswer>("POST", "/admin/rooms/nowhere/peers/x/mute", {
      muted: true,
    });
    expect(nowhere.status).to.equal(404);
    expect(nowhere.body.error).to.equal("room nowhere not found");
  });

  it("closes a room through a node that does not run it: KICKED to members on every node, the room gone cluster-wide", async () => {
    const { owner, nodeA, host, alice, bob } = await spreadRoom("closing");
    // nodeA mirrors the room for alice only; the room and the other sockets are elsewhere.
    const { status, body } = await nodeA.send<AdminAnswer>("DELETE", "/admin/rooms/closing");
    expect(status).to.equal(200);
    expect(body).to.deep.equal({ ok: true });
    for (const client of [host, alice, bob])
      expect(await client.signaling.waitForEvent("error")).to.include({ code: "KICKED" });
    for (const node of cluster.nodes) {
      const rooms = await node.get<{ rooms: Array<{ roomId: string }> }>("/debug/rooms");
      expect(
        rooms.body.rooms.map((room) => room.roomId),
        node.nodeId,
      ).to.not.include("closing");
      const again = await node.send<AdminAnswer>("DELETE", "/admin/rooms/closing");
      expect(again.status, `${node.nodeId} after the close`).to.equal(404);
      expect(again.body.error).to.equal("room closing not found");
    }
    expect(owner.alive).to.equal(true);

    // A node that holds nothing of the room, not even a socket, closes it too.
    const signaling = cluster.nodes[0]!;
    const lone = await cluster.join(signaling, "lone", "solo", { audioLevel: SILENT });
    const loneOwner = await cluster.ownerOf("lone");
    const stranger = cluster.nodes.find((node) => node !== loneOwner && node !== signaling)!;
    const closed = await stranger.send<AdminAnswer>("DELETE", "/admin/rooms/lone");
    expect(closed.status, `DELETE through ${stranger.nodeId}`).to.equal(200);
    expect(await lone.signaling.waitForEvent("error")).to.include({ code: "KICKED" });
  });

  it("answers 404 for an admin action on a room no node runs, through every node", async () => {
    for (const node of cluster.nodes) {
      for (const [method, path, body] of [
        ["DELETE", "/admin/rooms/nowhere", undefined],
        ["DELETE", "/admin/rooms/nowhere/peers/x", undefined],
        ["POST", "/admin/rooms/nowhere/peers/x/mute", { muted: true }],
        ["POST", "/admin/rooms/nowhere/peers/x/deafen", { deafened: true }],
      ] as const) {
        const answer = await node.send<AdminAnswer>(method, path, body);
        expect(answer.status, `${method} ${path} through ${node.nodeId}`).to.equal(404);
        expect(answer.body.error).to.equal("room nowhere not found");
      }
    }
  });

  it("answers an admin action 503 naming the room's node when that node does not answer in time", async () => {
    const { owner, nodeA, bob } = await spreadRoom("stalled");
    owner.pause(true);
    try {
      // Both at once: one after the other, the second could come after the others declared the
      // paused node dead (its registration lives 5 s) and released its room, which is a 404.
      const [{ status, body }, close] = await Promise.all([
        nodeA.send<AdminAnswer>("POST", `/admin/rooms/stalled/peers/${bob.peerId}/mute`, { muted: true }),
        nodeA.send<AdminAnswer>("DELETE", "/admin/rooms/stalled"),
      ]);
      expect(status).to.equal(503);
      expect(body.error).to.equal(
        `the room's node did not confirm the action: node ${owner.nodeId} did not answer moderate within 5000 ms`,
      );
      expect(close.status).to.equal(503);
      expect(close.body.error).to.equal(
        `the room's node did not confirm the action: node ${owner.nodeId} did not answer close-room within 5000 ms`,
      );
    } finally {
      owner.pause(false);
    }
    await cluster.settled();
  });
});
