import { expect } from "chai";
import { useSfu } from "../helpers/fixture.js";
import type { MediaClient } from "../helpers/MediaClient.js";
import { sleep, waitFor } from "../helpers/wait.js";

/** Packets `receiver` got from each of `sources` over `ms`, after letting packets in flight land. */
async function packetsOver(receiver: MediaClient, sources: MediaClient[], ms: number): Promise<number[]> {
  await sleep(200);
  const before = sources.map((source) => receiver.packetsFrom(source.peerId));
  await sleep(ms);
  return sources.map((source, i) => receiver.packetsFrom(source.peerId) - before[i]!);
}

for (const [mode, env] of [
  ["in the main thread", {}],
  ["with SFU_WORKERS=1", { SFU_WORKERS: "1" }],
] as const) {
  describe(`loudest-N forwarding, FORWARD_LOUDEST=2 (${mode})`, function () {
    this.timeout(60_000);
    const sfu = useSfu({ FORWARD_LOUDEST: "2", ...env });

    it("forwards only the two loudest of four publishers, follows the loudest who stops within 1 s, and keeps payloads and numbering intact", async () => {
      // The quiet ones publish first, so they hold the free slots until the loud ones' levels are known.
      const d = await sfu.join("loudest", "d", { audioLevel: 40 });
      const c = await sfu.join("loudest", "c", { audioLevel: 30 });
      const b = await sfu.join("loudest", "b", { audioLevel: 20 });
      const a = await sfu.join("loudest", "a", { audioLevel: 10 });
      const listener = await sfu.join("loudest", "listener", { publish: false });
      const publishers = [a, b, c, d];
      for (const client of publishers) client.startSending();

      // Every publisher's track is there for the listener, forwarded or not.
      await waitFor(() => listener.trackStreams.length === 4, 10_000, "four tracks");
      expect(listener.trackStreams).to.have.members(publishers.map((p) => p.peerId));
      await waitFor(
        () => listener.packetsFrom(a.peerId) > 10 && listener.packetsFrom(b.peerId) > 10,
        5000,
        "the loud pair forwarded",
      );
      const [fromA, fromB, fromC, fromD] = await packetsOver(listener, publishers, 1000);
      expect(fromA, "a, loudest").to.be.greaterThan(35);
      expect(fromB, "b, second").to.be.greaterThan(35);
      expect(fromC, "c, third").to.equal(0);
      expect(fromD, "d, fourth").to.equal(0);
      // A publisher inside the set hears the other one only.
      const [aFromB, aFromC, aFromD] = await packetsOver(a, [b, c, d], 600);
      expect(aFromB).to.be.greaterThan(20);
      expect([aFromC, aFromD]).to.deep.equal([0, 0]);

      a.stopSending();
      const stoppedAt = performance.now();
      const cBefore = listener.packetsFrom(c.peerId);
      await waitFor(() => listener.packetsFrom(c.peerId) > cBefore, 2000, "c forwarded after a stops");
      expect(performance.now() - stoppedAt, "the set follows within 1 s").to.be.below(1000);
      const [, afterB, afterC, afterD] = await packetsOver(listener, publishers, 1000);
      expect(afterB).to.be.greaterThan(35);
      expect(afterC).to.be.greaterThan(35);
      expect(afterD).to.equal(0);

      for (const source of publishers) {
        const stats = listener.stats(source.peerId);
        if (!stats) continue;
        expect(stats.corrupt, `${source.options.userId}: byte-identical payloads`).to.equal(0);
        expect([...stats.sources]).to.deep.equal([source.options.userId]);
        // c and d were forwarded, paused and (c) resumed: each receiver's numbering never jumped.
        expect(stats.seqJumps, `${source.options.userId}: continuous sequence numbers`).to.equal(0);
      }
      expect(listener.stats(c.peerId)!.packets).to.be.greaterThan(35);
    });
  });
}

describe("loudest-N forwarding off (FORWARD_LOUDEST=0, the default)", function () {
  this.timeout(60_000);
  const sfu = useSfu();

  it("forwards every publisher, quiet or loud", async () => {
    const loud = await sfu.join("all", "loud", { audioLevel: 10 });
    const quiet = await sfu.join("all", "quiet", { audioLevel: 60 });
    const silent = await sfu.join("all", "silent", { audioLevel: 127 });
    const listener = await sfu.join("all", "listener", { publish: false });
    for (const client of [loud, quiet, silent]) client.startSending();
    await waitFor(() => listener.trackStreams.length === 3, 10_000, "three tracks");
    await sleep(800);
    const counts = await packetsOver(listener, [loud, quiet, silent], 1000);
    for (const count of counts) expect(count).to.be.greaterThan(35);
  });
});
