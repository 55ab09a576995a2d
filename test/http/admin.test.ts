import { expect } from "chai";
import request from "supertest";
import type { PeerSnapshot } from "../../lib/types.js";
import { useSfu } from "../helpers/fixture.js";
import type { MediaClient } from "../helpers/MediaClient.js";
import { SignalingClient } from "../helpers/SignalingClient.js";
import { sleep, waitFor } from "../helpers/wait.js";

const TOKEN = "admin-secret";
const BEARER = `Bearer ${TOKEN}`;

interface AdminAnswer {
  ok?: true;
  peer?: PeerSnapshot;
  error?: string;
}

/** Packets `receiver` got from `source` over `ms`, after letting packets in flight land. */
async function packetsOver(receiver: MediaClient, source: MediaClient, ms: number): Promise<number> {
  await sleep(300);
  const before = receiver.packetsFrom(source.peerId);
  await sleep(ms);
  return receiver.packetsFrom(source.peerId) - before;
}

/** A new socket that joins with `resumeToken`; closed by the caller. */
async function resumeWith(url: string, roomId: string, userId: string, resumeToken: string) {
  const signaling = new SignalingClient(url);
  await signaling.connected();
  const joined = await signaling.join({ roomId, userId, resumeToken });
  return { signaling, joined };
}

describe("moderation routes under /admin", function () {
  this.timeout(60_000);

  describe("without ADMIN_TOKEN", () => {
    const sfu = useSfu();

    it("answers 403 on every route and says why, even with a bearer", async () => {
      const alice = await sfu.join("room", "alice");
      const routes = [
        request(sfu.server.url).post(`/admin/rooms/room/peers/${alice.peerId}/mute`).send({ muted: true }),
        request(sfu.server.url)
          .post(`/admin/rooms/room/peers/${alice.peerId}/deafen`)
          .send({ deafened: true }),
        request(sfu.server.url)
          .delete(`/admin/rooms/room/peers/${alice.peerId}`)
          .set("Authorization", BEARER),
        request(sfu.server.url).delete("/admin/rooms/room"),
      ];
      for (const route of routes) {
        const res = await route.expect(403);
        expect((res.body as AdminAnswer).error).to.match(/ADMIN_TOKEN is not set/);
      }
      const { peers } = (await request(sfu.server.url).get("/debug/peers").expect(200)).body as {
        peers: PeerSnapshot[];
      };
      expect(peers).to.have.length(1);
      expect(peers[0]).to.include({ serverMuted: false, deafened: false });
    });
  });

  for (const [mode, env] of [
    ["in the main thread", {}],
    ["with SFU_WORKERS=2", { SFU_WORKERS: "2" }],
  ] as const) {
    describe(`with ADMIN_TOKEN (${mode})`, () => {
      const sfu = useSfu({ ADMIN_TOKEN: TOKEN, ...env });
      const admin = () => request(sfu.server.url);

      it("checks the bearer, then the body, then the room and peer, on each route", async () => {
        const alice = await sfu.join("room", "alice");
        const peerPath = `/admin/rooms/room/peers/${alice.peerId}`;
        for (const [method, path] of [
          ["post", `${peerPath}/mute`],
          ["post", `${peerPath}/deafen`],
          ["delete", peerPath],
          ["delete", "/admin/rooms/room"],
        ] as const) {
          await admin()[method](path).send({ muted: "x", deafened: "x" }).expect(401);
          await admin()[method](path).set("Authorization", "Bearer wrong").expect(401);
        }
        const bad = async (path: string, body: object | string, error: string) => {
          const res = await admin().post(path).set("Authorization", BEARER).send(body).expect(400);
          expect((res.body as AdminAnswer).error).to.equal(error);
        };
        await bad(`${peerPath}/mute`, {}, "muted is required");
        await bad(`${peerPath}/mute`, { muted: 1 }, "muted must be a boolean");
        await bad(`${peerPath}/deafen`, { deafened: "true" }, "deafened must be a boolean");
        await bad(`${peerPath}/deafen`, [true], "body must be a JSON object");
        // A bad body is refused before the room is looked up.
        await bad("/admin/rooms/nowhere/peers/nobody/mute", { muted: null }, "muted must be a boolean");

        const missing = async (method: "post" | "delete", path: string, body: object, error: RegExp) => {
          const res = await admin()[method](path).set("Authorization", BEARER).send(body).expect(404);
          expect((res.body as AdminAnswer).error).to.match(error);
        };
        await missing("post", "/admin/rooms/nowhere/peers/x/mute", { muted: true }, /room nowhere not found/);
        await missing(
          "post",
          "/admin/rooms/room/peers/nobody/deafen",
          { deafened: true },
          /peer nobody not found/,
        );
        await missing("delete", "/admin/rooms/room/peers/nobody", {}, /peer nobody not found/);
        await missing("delete", "/admin/rooms/nowhere", {}, /room nowhere not found/);

        const { text } = await admin().get("/metrics").set("Authorization", BEARER).expect(200);
        expect(text, "refused requests change nothing").to.not.match(/^sfu_admin_actions_total\{/m);
        expect(alice.signaling.events("peer-updated")).to.deep.equal([]);
      });

      it("server mute stops forwarding while the client keeps sending; deafen stops everything to that peer", async () => {
        const alice = await sfu.join("room", "alice");
        const bob = await sfu.join("room", "bob");
        const carol = await sfu.join("room", "carol");
        for (const client of [alice, bob, carol]) client.startSending();
        await bob.waitForPackets(alice.peerId, 25);

        const muted = await admin()
          .post(`/admin/rooms/room/peers/${alice.peerId}/mute`)
          .set("Authorization", BEARER)
          .send({ muted: true })
          .expect(200);
        const answer = muted.body as AdminAnswer;
        expect(answer.ok).to.equal(true);
        expect(answer.peer).to.include({
          peerId: alice.peerId,
          userId: "alice",
          serverMuted: true,
          muted: false,
        });
        const update = {
          roomId: "room",
          peerId: alice.peerId,
          muted: false,
          serverMuted: true,
          deafened: false,
        };
        for (const client of [alice, bob, carol])
          expect(await client.signaling.waitForEvent("peer-updated")).to.deep.equal(update);
        expect(await packetsOver(bob, alice, 1000), "a server-muted peer's packets").to.equal(0);
        expect(await packetsOver(bob, carol, 1000)).to.be.greaterThan(20);
        // Unmuting itself does not lift a server mute.
        expect(await alice.signaling.request("mute", { muted: false })).to.deep.equal({ ok: true });
        expect(await packetsOver(carol, alice, 800)).to.equal(0);

        await admin()
          .post(`/admin/rooms/room/peers/${alice.peerId}/mute`)
          .set("Authorization", BEARER)
          .send({ muted: false })
          .expect(200);
        await bob.signaling.waitForEvent("peer-updated", (m) => m.peerId === alice.peerId && !m.serverMuted);
        await bob.waitForPackets(alice.peerId, 25);

        const deafened = await admin()
          .post(`/admin/rooms/room/peers/${bob.peerId}/deafen`)
          .set("Authorization", BEARER)
          .send({ deafened: true })
          .expect(200);
        expect((deafened.body as AdminAnswer).peer).to.include({ peerId: bob.peerId, deafened: true });
        await carol.signaling.waitForEvent("peer-updated", (m) => m.peerId === bob.peerId && m.deafened);
        await sleep(300);
        const heard = [bob.packetsFrom(alice.peerId), bob.packetsFrom(carol.peerId)];
        await sleep(1000);
        expect(bob.packetsFrom(alice.peerId) - heard[0]!, "alice to a deafened bob").to.equal(0);
        expect(bob.packetsFrom(carol.peerId) - heard[1]!, "carol to a deafened bob").to.equal(0);
        expect(await packetsOver(carol, bob, 1000), "a deafened peer still speaks").to.be.greaterThan(20);
        await admin()
          .post(`/admin/rooms/room/peers/${bob.peerId}/deafen`)
          .set("Authorization", BEARER)
          .send({ deafened: false })
          .expect(200);
        await bob.waitForPackets(alice.peerId, 25);
        await bob.waitForPackets(carol.peerId, 25);

        const { peers } = (await admin().get("/debug/peers").set("Authorization", BEARER).expect(200))
          .body as {
          peers: PeerSnapshot[];
        };
        for (const row of peers)
          expect(row).to.include({ muted: false, serverMuted: false, deafened: false });
        const { text } = await admin().get("/metrics").set("Authorization", BEARER).expect(200);
        for (const action of ["mute", "unmute", "deafen", "undeafen"])
          expect(text).to.match(new RegExp(`^sfu_admin_actions_total\\{action="${action}"\\} 1$`, "m"));
      });

      it("kick ends the session with KICKED, tells the room, and its resume token starts a new session", async () => {
        const alice = await sfu.join("room", "alice");
        const bob = await sfu.join("room", "bob");
        const kicked = await admin()
          .delete(`/admin/rooms/room/peers/${alice.peerId}`)
          .set("Authorization", BEARER)
          .expect(200);
        expect((kicked.body as AdminAnswer).ok).to.equal(true);
        expect((kicked.body as AdminAnswer).peer).to.include({ peerId: alice.peerId, userId: "alice" });
        expect(await alice.signaling.waitForEvent("error")).to.include({ code: "KICKED" });
        expect(await bob.signaling.waitForEvent("user-left")).to.deep.equal({
          roomId: "room",
          peerId: alice.peerId,
          userId: "alice",
          reason: "kicked",
        });
        const resumed = await resumeWith(sfu.server.url, "room", "alice", alice.joined!.resumeToken);
        try {
          expect(resumed.joined.resumed).to.equal(false);
          expect(resumed.joined.peerId).to.not.equal(alice.peerId);
        } finally {
          resumed.signaling.close();
        }
        await admin()
          .delete(`/admin/rooms/room/peers/${alice.peerId}`)
          .set("Authorization", BEARER)
          .expect(404);
      });

      it("tells a session resumed after a server mute it missed that it is muted", async () => {
        const alice = await sfu.join("room", "alice");
        const bob = await sfu.join("room", "bob");
        // Alice's socket is closed on purpose: an SFU offer she was answering can only fail with it.
        alice.tolerate = /socket has been disconnected|not acked|timed out/;
        alice.signaling.close();
        await admin()
          .post(`/admin/rooms/room/peers/${alice.peerId}/mute`)
          .set("Authorization", BEARER)
          .send({ muted: true })
          .expect(200);
        await bob.signaling.waitForEvent("peer-updated", (m) => m.peerId === alice.peerId && m.serverMuted);
        const resumed = await resumeWith(sfu.server.url, "room", "alice", alice.joined!.resumeToken);
        try {
          expect(resumed.joined).to.include({ resumed: true, peerId: alice.peerId });
          expect(await resumed.signaling.waitForEvent("peer-updated")).to.deep.equal({
            roomId: "room",
            peerId: alice.peerId,
            muted: false,
            serverMuted: true,
            deafened: false,
          });
          expect(resumed.joined.peers[0]).to.include({ peerId: bob.peerId, serverMuted: false });
        } finally {
          resumed.signaling.close();
        }
      });

      it("deleting a room kicks everyone in it, leaves other rooms alone, and frees its id", async () => {
        const alice = await sfu.join("doomed", "alice");
        const bob = await sfu.join("doomed", "bob");
        const dave = await sfu.join("other", "dave");
        await admin().delete("/admin/rooms/doomed").set("Authorization", BEARER).expect(200, { ok: true });
        for (const client of [alice, bob])
          expect(await client.signaling.waitForEvent("error")).to.include({ code: "KICKED" });
        await waitFor(async () => {
          const { rooms } = (await admin().get("/debug/rooms").set("Authorization", BEARER)).body as {
            rooms: Array<{ roomId: string }>;
          };
          return rooms.length === 1 && rooms[0]!.roomId === "other";
        });
        expect(dave.signaling.events("error")).to.deep.equal([]);
        const resumed = await resumeWith(sfu.server.url, "doomed", "bob", bob.joined!.resumeToken);
        try {
          expect(resumed.joined).to.include({ resumed: false, roomId: "doomed" });
          expect(resumed.joined.peers).to.deep.equal([]);
        } finally {
          resumed.signaling.close();
        }
        const { text } = await admin().get("/metrics").set("Authorization", BEARER).expect(200);
        expect(text).to.match(/^sfu_admin_actions_total\{action="delete_room"\} 1$/m);
      });
    });
  }
});
