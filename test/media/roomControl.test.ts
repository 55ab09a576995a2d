import { expect } from "chai";
import request from "supertest";
import type { ActiveSpeakersMessage } from "../../lib/protocol.js";
import type { PeerSnapshot } from "../../lib/types.js";
import { useSfu } from "../helpers/fixture.js";
import type { MediaClient } from "../helpers/MediaClient.js";
import { sleep, waitFor } from "../helpers/wait.js";

/** RFC 6464 levels, in -dBov: loud speech, quieter speech, under the -35 dBov threshold, silence. */
const LOUD = 10;
const LOUDER = 4;
const SPEECH = 20;
const QUIET = 50;
const SILENT = 127;

/** §12: a speaker who starts or stops is reflected within 1 s. */
const CHANGE_WITHIN_MS = 1000;

/** Waits for the next `active-speakers` event after `seen` events and says when it came. */
async function nextSpeakers(
  client: MediaClient,
  seen: number,
  timeoutMs = 3000,
): Promise<{ message: ActiveSpeakersMessage; at: number }> {
  const message = await waitFor(
    () => client.signaling.events("active-speakers")[seen],
    timeoutMs,
    "an active-speakers event",
  );
  return { message, at: performance.now() };
}

const ids = (message: ActiveSpeakersMessage) => message.speakers.map((speaker) => speaker.peerId);

/** Packets `receiver` got from `source` over `ms`, after letting packets in flight land. */
async function packetsOver(receiver: MediaClient, source: MediaClient, ms: number): Promise<number> {
  await sleep(300);
  const before = receiver.packetsFrom(source.peerId);
  await sleep(ms);
  return receiver.packetsFrom(source.peerId) - before;
}

for (const [mode, env] of [
  ["in the main thread", {}],
  ["with SFU_WORKERS=2", { SFU_WORKERS: "2" }],
] as const) {
  describe(`room control: self-mute and active speakers (${mode})`, function () {
    this.timeout(60_000);
    const sfu = useSfu(env);

    it("lists exactly the loud publishers, loudest first, re-sends nothing while speech is steady, and follows a speaker who stops or starts within 1 s", async () => {
      const loud = await sfu.join("talk", "loud", { audioLevel: LOUD });
      const speech = await sfu.join("talk", "speech", { audioLevel: SPEECH });
      const quiet = await sfu.join("talk", "quiet", { audioLevel: QUIET });
      const silent = await sfu.join("talk", "silent", { audioLevel: SILENT });
      // Sends loud packets, but without the extension the SFU cannot know: never listed.
      const plain = await sfu.join("talk", "plain", { levelExtension: false, audioLevel: LOUDER });
      const listener = await sfu.join("talk", "listener", { publish: false });
      for (const client of [loud, speech, quiet, silent, plain]) client.startSending();

      const first = await waitFor(
        () => listener.signaling.events("active-speakers").find((m) => m.speakers.length === 2),
        5000,
        "both speakers listed",
      );
      expect(first.roomId).to.equal("talk");
      expect(ids(first)).to.deep.equal([loud.peerId, speech.peerId]);
      expect(first.speakers[0]!.level).to.be.closeTo(10 ** (-LOUD / 20), 0.02);
      expect(first.speakers[1]!.level).to.be.closeTo(10 ** (-SPEECH / 20), 0.01);
      // Everyone in the room gets the same list, speakers included.
      await waitFor(() => loud.signaling.events("active-speakers").some((m) => m.speakers.length === 2));

      const { peers } = (await request(sfu.server.url).get("/debug/peers").expect(200)).body as {
        peers: PeerSnapshot[];
      };
      const rows = new Map(peers.map((row) => [row.peerId, row]));
      expect(rows.get(loud.peerId)).to.include({
        speaking: true,
        muted: false,
        serverMuted: false,
        deafened: false,
      });
      expect(rows.get(loud.peerId)!.audioLevel).to.be.closeTo(10 ** (-LOUD / 20), 0.02);
      expect(rows.get(quiet.peerId)).to.include({ speaking: false });
      expect(rows.get(quiet.peerId)!.audioLevel).to.be.closeTo(10 ** (-QUIET / 20), 0.001);
      expect(rows.get(plain.peerId)).to.include({ speaking: false, audioLevel: 0 });

      const steadyFrom = listener.signaling.events("active-speakers").length;
      await sleep(5000);
      expect(
        listener.signaling.events("active-speakers").length - steadyFrom,
        "events over 5 s of steady speech",
      ).to.equal(0);

      // A late joiner learns who speaks at once, not at the next change.
      const late = await sfu.join("talk", "late", { publish: false });
      const current = await nextSpeakers(late, 0, 1000);
      expect(ids(current.message)).to.deep.equal([loud.peerId, speech.peerId]);

      let seen = listener.signaling.events("active-speakers").length;
      let changedAt = performance.now();
      speech.audioLevel = SILENT;
      let next = await nextSpeakers(listener, seen);
      expect(ids(next.message), "the speaker who stopped is gone").to.deep.equal([loud.peerId]);
      expect(next.at - changedAt).to.be.below(CHANGE_WITHIN_MS);

      seen = listener.signaling.events("active-speakers").length;
      changedAt = performance.now();
      speech.audioLevel = LOUDER;
      next = await nextSpeakers(listener, seen);
      expect(ids(next.message), "the new loudest comes first").to.deep.equal([speech.peerId, loud.peerId]);
      expect(next.at - changedAt).to.be.below(CHANGE_WITHIN_MS);

      seen = listener.signaling.events("active-speakers").length;
      changedAt = performance.now();
      speech.audioLevel = SILENT;
      loud.audioLevel = SILENT;
      next = await waitFor(
        async () => {
          const event = await nextSpeakers(listener, seen);
          seen++;
          return event.message.speakers.length === 0 ? event : undefined;
        },
        3000,
        "an empty list",
      );
      expect(next.message.speakers).to.deep.equal([]);
      expect(next.at - changedAt).to.be.below(CHANGE_WITHIN_MS + 300);
    });

    it("stops forwarding a self-muted peer's packets, tells the room, and restores audio on unmute", async () => {
      const alice = await sfu.join("mute", "alice", { audioLevel: LOUD });
      const bob = await sfu.join("mute", "bob");
      alice.startSending();
      bob.startSending();
      await bob.waitForPackets(alice.peerId, 25);
      await waitFor(() => bob.signaling.events("active-speakers").some((m) => ids(m).includes(alice.peerId)));

      const ack = await alice.signaling.request("mute", { muted: true });
      expect(ack).to.deep.equal({ ok: true });
      const update = {
        roomId: "mute",
        peerId: alice.peerId,
        muted: true,
        serverMuted: false,
        deafened: false,
      };
      expect(await bob.signaling.waitForEvent("peer-updated")).to.deep.equal(update);
      expect(await alice.signaling.waitForEvent("peer-updated")).to.deep.equal(update);
      expect(await packetsOver(bob, alice, 1000), "packets of a muted peer").to.equal(0);
      expect(await packetsOver(alice, bob, 1000), "the muted peer still hears").to.be.greaterThan(20);
      // A muted peer is not speaking, whatever its packets say.
      await waitFor(() => bob.signaling.events("active-speakers").some((m) => m.speakers.length === 0));

      const carol = await sfu.join("mute", "carol");
      expect(carol.joined!.peers.find((p) => p.peerId === alice.peerId)).to.include({
        muted: true,
        serverMuted: false,
        deafened: false,
      });
      expect(alice.signaling.events("user-joined").at(-1)).to.include({
        peerId: carol.peerId,
        muted: false,
        serverMuted: false,
        deafened: false,
      });

      expect(await alice.signaling.request("mute", { muted: false })).to.deep.equal({ ok: true });
      await bob.signaling.waitForEvent("peer-updated", (m) => m.peerId === alice.peerId && !m.muted);
      await bob.waitForPackets(alice.peerId, 25);
      await carol.waitForPackets(alice.peerId, 25);
      expect(bob.stats(alice.peerId)!.corrupt).to.equal(0);
    });

    it("refuses a malformed mute and a mute before joining", async () => {
      const alice = await sfu.join("mute", "alice");
      const bad = await alice.signaling.request("mute", { muted: "yes" });
      expect(bad).to.deep.equal({
        ok: false,
        error: { code: "BAD_REQUEST", message: "muted must be a boolean" },
      });
      const missing = await alice.signaling.request("mute", {});
      expect(missing).to.include({ ok: false });
      expect(missing.ok || missing.error.message).to.equal("muted is required");
      await alice.signaling.request("leave", { roomId: "mute" });
      const notJoined = await alice.signaling.request("mute", { muted: true });
      expect(notJoined.ok || notJoined.error.code).to.equal("NOT_JOINED");
    });
  });
}
