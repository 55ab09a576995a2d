import { expect } from "chai";
import request from "supertest";
import type { PeerSnapshot, RoomSnapshot, TrackSnapshot } from "../../lib/types.js";
import { useSfu } from "../helpers/fixture.js";
import type { MediaClient } from "../helpers/MediaClient.js";
import { sleep } from "../helpers/wait.js";

/** supertest bodies are untyped JSON; the routes promise these shapes. */
function body<T>(res: request.Response): T {
  return res.body as T;
}

describe("REST routes for admin dashboards", function () {
  this.timeout(60_000);

  describe("with a live room", () => {
    const sfu = useSfu({}, { per: "suite" });
    const clients: MediaClient[] = [];

    before(async () => {
      for (const userId of ["alice", "bob"]) {
        clients.push(await sfu.join("lobby", userId, { displayName: `${userId}!` }));
      }
      for (const c of clients) c.startSending();
      await clients[1]!.waitForPackets(clients[0]!.peerId, 25);
    });

    it("GET /health reports status, uptime, version and counts", async () => {
      const res = await request(sfu.server.url).get("/health").expect(200).expect("Content-Type", /json/);
      const health = body<{ status: string; rooms: number; peers: number; uptime: number; version: string }>(
        res,
      );
      expect(health).to.include({ status: "ok", rooms: 1, peers: 2 });
      expect(health.uptime).to.be.a("number");
      expect(health.version).to.match(/^\d+\.\d+\.\d+/);
    });

    it("GET /debug/rooms lists rooms with peer and track counts", async () => {
      const res = await request(sfu.server.url).get("/debug/rooms").expect(200);
      const { rooms } = body<{
        rooms: Array<{ roomId: string; peers: number; tracks: number; createdAt: string }>;
      }>(res);
      expect(rooms).to.have.length(1);
      expect(rooms[0]).to.include({ roomId: "lobby", peers: 2, tracks: 2 });
      expect(Date.parse(rooms[0]!.createdAt)).to.be.a("number").and.not.NaN;
    });

    it("GET /debug/rooms/:roomId details one room, 404 for an unknown one", async () => {
      const res = await request(sfu.server.url).get("/debug/rooms/lobby").expect(200);
      const room = body<RoomSnapshot>(res);
      expect(room.roomId).to.equal("lobby");
      expect(room.peers.map((p) => p.userId)).to.have.members(["alice", "bob"]);
      expect(room.tracks).to.have.length(2);
      await request(sfu.server.url).get("/debug/rooms/nowhere").expect(404);
    });

    it("GET /debug/peers shows each peer's session and media state", async () => {
      const res = await request(sfu.server.url).get("/debug/peers").expect(200);
      const alice = body<{ peers: PeerSnapshot[] }>(res).peers.find((p) => p.userId === "alice")!;
      expect(alice).to.include({
        peerId: clients[0]!.peerId,
        displayName: "alice!",
        roomId: "lobby",
        connectionState: "connected",
        published: 1,
        subscribed: 1,
      });
      expect(alice.selectedPair, "loopback host candidates on both sides").to.deep.equal({
        local: "host",
        remote: "host",
        protocol: "udp",
      });
      expect(Date.parse(alice.joinedAt)).to.not.be.NaN;
    });

    it("GET /debug/tracks shows forwarding counters that move", async () => {
      const first = await request(sfu.server.url).get("/debug/tracks").expect(200);
      const track = body<{ tracks: TrackSnapshot[] }>(first).tracks.find(
        (t) => t.peerId === clients[0]!.peerId,
      )!;
      expect(track).to.include({ roomId: "lobby", kind: "audio", subscribers: 1 });
      expect(track.codec.toLowerCase()).to.equal("audio/opus");
      expect(track.trackId).to.be.a("string");
      await sleep(500);
      const second = await request(sfu.server.url).get("/debug/tracks").expect(200);
      const later = body<{ tracks: TrackSnapshot[] }>(second).tracks.find(
        (t) => t.trackId === track.trackId,
      )!;
      expect(later.packetsForwarded).to.be.greaterThan(track.packetsForwarded);
      expect(later.bytesForwarded).to.be.greaterThan(track.bytesForwarded);
    });

    it("GET /metrics exposes the sfu_* series in Prometheus text format", async () => {
      const res = await request(sfu.server.url)
        .get("/metrics")
        .expect(200)
        .expect("Content-Type", /text\/plain/);
      const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(res.text)?.[1]);
      expect(value("sfu_rooms_active")).to.equal(1);
      expect(value("sfu_peers_active")).to.equal(2);
      expect(value("sfu_tracks_active")).to.equal(2);
      expect(value("sfu_socket_connections_active")).to.equal(2);
      expect(value("sfu_rtp_packets_forwarded_total")).to.be.greaterThan(0);
      expect(value("sfu_rtp_bytes_forwarded_total")).to.be.greaterThan(0);
      expect(res.text).to.match(/^sfu_signaling_events_total\{event="join",result="ok"\} 2$/m);
      expect(res.text).to.match(/^sfu_join_duration_seconds_count 2$/m);
      expect(res.text).to.include("http_request_duration_seconds");
    });
  });

  describe("with ADMIN_TOKEN set", () => {
    const sfu = useSfu({ ADMIN_TOKEN: "s3cret" }, { per: "suite" });

    // With the bearer each route answers as without ADMIN_TOKEN: room "x" does not exist.
    const routes: Array<[string, number]> = [
      ["/debug/rooms", 200],
      ["/debug/peers", 200],
      ["/debug/tracks", 200],
      ["/debug/rooms/x", 404],
      ["/metrics", 200],
    ];
    for (const [path, status] of routes) {
      it(`guards ${path} with the bearer token`, async () => {
        await request(sfu.server.url).get(path).expect(401);
        await request(sfu.server.url).get(path).set("Authorization", "Bearer wrong").expect(401);
        await request(sfu.server.url).get(path).set("Authorization", "Bearer s3cret").expect(status);
      });
    }

    it("leaves /health open", async () => {
      await request(sfu.server.url).get("/health").expect(200);
    });
  });

  describe("on its own SFU", () => {
    const sfu = useSfu();

    it("answers 503 draining on /health once shutdown begins", async () => {
      const server = sfu.server;
      const closing = server.close();
      const res = await request(server.url).get("/health");
      expect(res.status).to.equal(503);
      expect(res.body).to.deep.equal({ status: "draining" });
      await closing;
    });

    it("allows only CORS_ORIGINS when set", async () => {
      const server = await sfu.restart({ CORS_ORIGINS: "https://app.example.com" });
      const ok = await request(server.url).get("/health").set("Origin", "https://app.example.com");
      expect(ok.headers["access-control-allow-origin"]).to.equal("https://app.example.com");
      const other = await request(server.url).get("/health").set("Origin", "https://evil.example.com");
      expect(other.headers["access-control-allow-origin"]).to.equal(undefined);
    });
  });
});
