import { expect } from "chai";
import request from "supertest";
import { WorkerPool } from "../../lib/sfu/cluster/WorkerPool.js";
import type { PeerSnapshot } from "../../lib/types.js";
import { useSfu } from "../helpers/fixture.js";
import type { MediaClient } from "../helpers/MediaClient.js";
import { waitFor } from "../helpers/wait.js";

interface RoomSummary {
  roomId: string;
  peers: number;
  tracks: number;
}

/** Every client hears every other one, byte-identical and in sequence. */
async function expectEveryoneHearsEveryone(clients: MediaClient[]): Promise<void> {
  for (const receiver of clients) {
    for (const source of clients) {
      if (source === receiver) continue;
      await receiver.waitForPackets(source.peerId, 50);
      const stats = receiver.stats(source.peerId)!;
      expect(stats.corrupt, `${receiver.options.userId} <- ${source.options.userId} corrupt`).to.equal(0);
      expect(stats.seqJumps).to.equal(0);
    }
  }
}

describe("rooms spread over forwarding worker threads (SFU_WORKERS=2)", function () {
  this.timeout(60_000);
  const sfu = useSfu({ SFU_WORKERS: "2" });
  const pool = () => sfu.server.application.sfu as WorkerPool;

  it("runs each room on its own worker, forwards audio in both, and reports them over REST and /metrics", async () => {
    expect(sfu.server.application.sfu).to.be.instanceOf(WorkerPool);
    const north = [
      await sfu.join("north", "alice"),
      await sfu.join("north", "bob"),
      await sfu.join("north", "carol"),
    ];
    const south = [await sfu.join("south", "dave"), await sfu.join("south", "erin")];
    expect(pool().workerLoads, "the second room starts on the idle worker").to.deep.equal([3, 2]);
    for (const client of [...north, ...south]) client.startSending();
    await expectEveryoneHearsEveryone(north);
    await expectEveryoneHearsEveryone(south);
    expect(north[0]!.packetsFrom(south[0]!.peerId), "rooms stay apart").to.equal(0);

    const get = async <T>(path: string): Promise<T> =>
      (await request(sfu.server.url).get(path).expect(200)).body as T;
    const { rooms } = await get<{ rooms: RoomSummary[] }>("/debug/rooms");
    expect(rooms.map((r) => [r.roomId, r.peers, r.tracks])).to.have.deep.members([
      ["north", 3, 3],
      ["south", 2, 2],
    ]);
    const { peers } = await get<{ peers: PeerSnapshot[] }>("/debug/peers");
    expect(peers.map((p) => p.connectionState)).to.deep.equal(Array(5).fill("connected"));
    expect(await get<object>("/health")).to.include({ rooms: 2, peers: 5 });
    const { text } = await request(sfu.server.url).get("/metrics").expect(200);
    const forwarded = Number(/^sfu_rtp_packets_forwarded_total (\d+)/m.exec(text)?.[1]);
    expect(forwarded, "packets counted across workers").to.be.greaterThan(300);
    const series = (name: string): Array<[string, number]> =>
      [...text.matchAll(new RegExp(`^${name}\\{worker="(\\d)"\\} (\\S+)$`, "gm"))].map((m) => [
        m[1]!,
        Number(m[2]),
      ]);
    expect(series("sfu_worker_peers")).to.deep.equal([
      ["0", 3],
      ["1", 2],
    ]);
    const utilization = series("sfu_worker_event_loop_utilization");
    expect(utilization.map(([worker]) => worker)).to.deep.equal(["0", "1"]);
    for (const [, busy] of utilization) expect(busy).to.be.greaterThan(0).and.lessThan(1);
    // Each worker reports its own heap, which holds its rooms' peers (werift connections and all).
    const used = series("sfu_worker_heap_used_bytes");
    const total = new Map(series("sfu_worker_heap_total_bytes"));
    expect(used.map(([worker]) => worker)).to.deep.equal(["0", "1"]);
    for (const [worker, bytes] of used) {
      expect(bytes, `worker ${worker} heap in use`).to.be.greaterThan(1_000_000);
      expect(bytes, `worker ${worker} heap in use vs reserved`).to.be.at.most(total.get(worker)!);
    }
    expect(series("sfu_worker_external_memory_bytes").map(([worker]) => worker)).to.deep.equal(["0", "1"]);
  });

  it("announces joins and leaves across the thread boundary and frees the worker's share", async () => {
    const alice = await sfu.join("room", "alice");
    const bob = await sfu.join("room", "bob");
    alice.startSending();
    await bob.waitForPackets(alice.peerId, 25);
    expect(await alice.signaling.request("leave", { roomId: "room" })).to.deep.equal({ ok: true });
    const left = await bob.signaling.waitForEvent("user-left", (m) => m.peerId === alice.peerId);
    expect(left.reason).to.equal("leave");
    await bob.signaling.request("leave", { roomId: "room" });
    await waitFor(() => pool().peerCount === 0 && pool().rooms.length === 0);
    expect(pool().workerLoads).to.deep.equal([0, 0]);
    const response = await request(sfu.server.url).get("/debug/rooms").expect(200);
    expect((response.body as { rooms: RoomSummary[] }).rooms).to.deep.equal([]);
  });

  it("replaces a duplicate user inside the worker and tells the older session REPLACED", async () => {
    const first = await sfu.join("dup", "alice");
    const other = await sfu.join("dup", "bob");
    const second = await sfu.join("dup", "alice");
    const error = await first.signaling.waitForEvent("error");
    expect(error.code).to.equal("REPLACED");
    const left = await other.signaling.waitForEvent("user-left", (m) => m.peerId === first.peerId);
    expect(left.reason).to.equal("replaced");
    expect(sfu.server.application.sfu.getRoom("dup")!.peers.map((p) => p.userId)).to.have.members([
      "alice",
      "bob",
    ]);
    second.startSending();
    await other.waitForPackets(second.peerId, 25);
  });

  it("fails only the sessions of a worker that dies, and starts a fresh worker for new joins", async () => {
    const north = [await sfu.join("north", "alice"), await sfu.join("north", "bob")];
    const south = [await sfu.join("south", "carol"), await sfu.join("south", "dave")];
    for (const client of [...north, ...south]) client.startSending();
    await expectEveryoneHearsEveryone([...north]);
    const dead = pool().workers[0]!;
    await dead.terminate();

    for (const client of north) {
      expect((await client.signaling.waitForEvent("error")).code).to.equal("NEGOTIATION_FAILED");
    }
    await waitFor(() => pool().peerCount === 2 && pool().runningWorkers === 2);
    expect(pool().workers[0]).to.not.equal(dead);
    expect(sfu.server.application.sfu.getRoom("north"), "the dead worker's room is gone").to.equal(undefined);
    const southBefore = south[1]!.packetsFrom(south[0]!.peerId);
    await south[1]!.waitForPackets(south[0]!.peerId, southBefore + 25);

    const again = [await sfu.join("north", "erin"), await sfu.join("north", "frank")];
    for (const client of again) client.startSending();
    await expectEveryoneHearsEveryone(again);
  });

  it("ends every worker thread when the server closes, telling clients why", async () => {
    const alice = await sfu.join("bye", "alice");
    const bob = await sfu.join("bye", "bob");
    alice.startSending();
    await bob.waitForPackets(alice.peerId, 10);
    expect(pool().runningWorkers).to.equal(2);
    await sfu.server.close();
    expect(pool().runningWorkers).to.equal(0);
    expect((await bob.signaling.waitForEvent("error")).code).to.equal("SHUTTING_DOWN");
  });
});
