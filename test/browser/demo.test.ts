import { expect } from "chai";
import { sleep } from "../helpers/wait.js";
import type { DemoPage } from "./DemoPage.js";
import { useDemoBrowser } from "./useDemoBrowser.js";

/** Packets one Opus sender emits in the sampling window (20 ms frames), with slack for jitter. */
const SAMPLE_MS = 2000;
const MIN_PACKETS = 40;
/** RMS above this is audio: Chrome's fake microphone beeps at about 0.45 after the browser's gain control. */
const AUDIBLE = 0.05;
/** RMS below this is silence: what a muted track decodes to. */
const SILENT = 0.001;
/** How long the audio sent before a mute may take to play out at the listeners. */
const MUTE_SETTLE_MS = 5000;

/** A resume must fit in the grace period even when the reconnect backs off once. */
const SERVER_ENV = { RECONNECT_GRACE_MS: "15000" };

/** Packets each source sent to `page` during `SAMPLE_MS`, by source peerId. */
async function packetsDuringSample(page: DemoPage): Promise<Record<string, number>> {
  const before = await page.inboundPackets();
  await sleep(SAMPLE_MS);
  const after = await page.inboundPackets();
  return Object.fromEntries(Object.entries(after).map(([peerId, n]) => [peerId, n - (before[peerId] ?? 0)]));
}

describe("browser client SDK in headless Chromium", function () {
  this.timeout(90_000);
  this.slow(20_000);
  const demo = useDemoBrowser(SERVER_ENV);

  /** Opens and joins three demo pages in one room; returns them with their peerIds. */
  async function joinThree(room: string): Promise<Array<{ page: DemoPage; peerId: string }>> {
    const names = ["Ada Lovelace", "Grace Hopper", "Linus Torvalds"];
    const joined: Array<{ page: DemoPage; peerId: string }> = [];
    for (const name of names) {
      const page = await demo.open(room, name);
      joined.push({ page, peerId: await page.join() });
    }
    await Promise.all(joined.map(({ page }) => page.waitForRemoteAudio(2)));
    return joined;
  }

  it("lets three participants hear each other through the demo page", async () => {
    const joined = await joinThree("trio");
    const ids = joined.map(({ peerId }) => peerId);
    expect(new Set(ids).size).to.equal(3);

    for (const { page, peerId } of joined) {
      const others = ids.filter((id) => id !== peerId);
      expect((await page.participantIds()).sort()).to.deep.equal([...others].sort());
      await page.resetPeaks();
    }
    const samples = await Promise.all(joined.map(({ page }) => packetsDuringSample(page)));
    const peaks = await Promise.all(joined.map(({ page }) => page.peakLevels()));
    joined.forEach(({ page, peerId }, i) => {
      for (const other of ids.filter((id) => id !== peerId)) {
        expect(samples[i]![other], `${page.name} receives packets from ${other}`).to.be.at.least(MIN_PACKETS);
        expect(peaks[i]![other], `${page.name} hears ${other}`).to.be.above(AUDIBLE);
      }
    });
    // Figures for the record, named by page: what each page received from whom.
    const nameOf = new Map(joined.map(({ page, peerId }) => [peerId, page.name.split(" ")[0]!]));
    joined.forEach(({ page }, i) => {
      const from = ids
        .filter((id) => samples[i]![id] !== undefined)
        .map((id) => `${nameOf.get(id)} ${samples[i]![id]} pkts, peak ${peaks[i]![id]!.toFixed(3)}`);
      console.log(`      ${page.name} per ${SAMPLE_MS} ms: ${from.join("; ")}`);
    });

    // Local mute: Ada's track sends silence, and the others' analysers read it as such.
    const [ada, ...listeners] = joined as [(typeof joined)[0], ...typeof joined];
    await ada.page.page.click("#mute");
    // What the listeners' jitter buffers already hold still plays out; on a loaded machine
    // they hold more. Wait (up to MUTE_SETTLE_MS) for a quiet 500 ms, then sample.
    const settleBy = Date.now() + MUTE_SETTLE_MS;
    for (;;) {
      await Promise.all(listeners.map(({ page }) => page.resetPeaks()));
      await sleep(500);
      const levels = await Promise.all(listeners.map(({ page }) => page.peakLevels()));
      if (levels.every((level) => level[ada.peerId]! < SILENT) || Date.now() > settleBy) break;
    }
    await Promise.all(listeners.map(({ page }) => page.resetPeaks()));
    await sleep(SAMPLE_MS);
    for (const { page } of listeners) {
      const levels = await page.peakLevels();
      console.log(`      ${page.name} hears muted Ada at ${levels[ada.peerId]!.toFixed(4)}`);
      expect(levels[ada.peerId], `${page.name} hears silence from muted Ada`).to.be.below(SILENT);
    }
    await ada.page.page.click("#mute");
  });

  it("resumes a page whose socket dropped with the same peerId, unseen by the others, audio still flowing", async () => {
    const joined = await joinThree("resume");
    const [dropped, ...others] = joined as [(typeof joined)[0], ...typeof joined];
    await Promise.all(joined.map(({ page }) => page.recordEvents()));

    const oldSocket = await dropped.page.dropSocket();
    await dropped.page.waitForJoinedEvents(1, 15_000);
    const events = await dropped.page.events();
    expect(events.joinedEvents).to.deep.equal([{ roomId: "resume", peerId: dropped.peerId, resumed: true }]);
    expect(await dropped.page.peerId()).to.equal(dropped.peerId);
    expect(await dropped.page.socketId(), "a new socket").to.not.equal(oldSocket);
    expect(events.states).to.include("reconnecting");
    await dropped.page.waitForState("connected");

    const samples = await Promise.all(others.map(({ page }) => packetsDuringSample(page)));
    for (const [i, { page }] of others.entries()) {
      expect((await page.events()).left, `${page.name} saw nobody leave`).to.deep.equal([]);
      expect(await page.participantIds()).to.include(dropped.peerId);
      expect(samples[i]![dropped.peerId], `${page.name} still receives ${dropped.page.name}`).to.be.at.least(
        MIN_PACKETS,
      );
    }
    // And the resumed page still hears the others.
    const back = await packetsDuringSample(dropped.page);
    for (const { peerId } of others) expect(back[peerId]).to.be.at.least(MIN_PACKETS);
    const heard = others.map(({ page }, n) => `${page.name} ${samples[n]![dropped.peerId]}`).join(", ");
    const heardBack = others.map(({ page, peerId }) => `${page.name} ${back[peerId]}`).join(", ");
    console.log(
      `      after the resume, packets per ${SAMPLE_MS} ms from ${dropped.page.name}: ${heard}; to it: ${heardBack}`,
    );
  });

  it("drops a participant who leaves from the others' lists within a second", async () => {
    const joined = await joinThree("leave");
    const [stay1, stay2, leaver] = joined as [(typeof joined)[0], (typeof joined)[0], (typeof joined)[0]];

    const started = Date.now();
    await leaver.page.leave();
    await Promise.all([stay1, stay2].map(({ page }) => page.waitUntilUnlisted(leaver.peerId, 1_000)));
    const elapsed = Date.now() - started;
    for (const { page, peerId } of [stay1, stay2]) {
      expect(await page.participantIds()).to.not.include(leaver.peerId);
      expect((await page.listedIds()).sort()).to.deep.equal(
        ["self", [stay1, stay2].find((p) => p.peerId !== peerId)!.peerId].sort(),
      );
    }
    expect(await leaver.page.state()).to.equal("disconnected");
    expect(await leaver.page.listedIds()).to.deep.equal([]);
    console.log(`      the others' lists dropped the leaver after ${elapsed} ms`);
  });

  it("ends the session of a page that left during a signaling outage as soon as its socket is back", async () => {
    const joined = await joinThree("outage-leave");
    const [stay1, stay2, leaver] = joined as [(typeof joined)[0], (typeof joined)[0], (typeof joined)[0]];
    await Promise.all([stay1, stay2].map(({ page }) => page.recordEvents()));

    const started = Date.now();
    await leaver.page.leaveDuringOutage();
    expect(await leaver.page.state()).to.equal("disconnected");
    // Without the SDK's farewell the SFU would hold the session for RECONNECT_GRACE_MS (15 s).
    await Promise.all([stay1, stay2].map(({ page }) => page.waitUntilUnlisted(leaver.peerId, 8_000)));
    const elapsed = Date.now() - started;
    for (const { page } of [stay1, stay2]) {
      expect((await page.events()).left, `${page.name} saw the leaver leave`).to.deep.equal([
        { peerId: leaver.peerId, reason: "leave" },
      ]);
    }
    expect(await leaver.page.state()).to.equal("disconnected");
    expect(await leaver.page.listedIds()).to.deep.equal([]);
    console.log(`      the others saw the leaver leave ${elapsed} ms after it left offline`);
  });

  it("gets a page back into the room as a new session after the SFU restarts", async () => {
    const first = await demo.open("restart", "Ada Lovelace");
    const second = await demo.open("restart", "Grace Hopper");
    const oldIds = [await first.join(), await second.join()];
    await Promise.all(demo.pages.map((page) => page.waitForRemoteAudio(1)));
    await Promise.all(demo.pages.map((page) => page.recordEvents()));

    // The SFU drains (SHUTTING_DOWN to every client) and comes back on the same port.
    await demo.restartServer(async () => {
      await Promise.all(demo.pages.map((page) => page.waitForState("reconnecting", 5000)));
    });

    await Promise.all(demo.pages.map((page) => page.waitForJoinedEvents(1)));
    await Promise.all(demo.pages.map((page) => page.waitForState("connected")));
    await Promise.all(demo.pages.map((page) => page.waitForRemoteAudio(1)));
    const newIds = [await first.peerId(), await second.peerId()];
    for (const [i, page] of demo.pages.entries()) {
      const { joinedEvents } = await page.events();
      expect(joinedEvents).to.deep.equal([
        { roomId: "restart", peerId: newIds[i], resumed: false, previousPeerId: oldIds[i] },
      ]);
      expect(newIds[i]).to.not.equal(oldIds[i]);
    }
    const sample = await packetsDuringSample(first);
    expect(sample[newIds[1]!], "Ada hears Grace's new session").to.be.at.least(MIN_PACKETS);
  });

  it("stops an older tab that a newer tab of the same user replaced, without reconnecting", async () => {
    const older = await demo.open("replace", "Ada (laptop)", "ada");
    const other = await demo.open("replace", "Grace Hopper");
    const olderId = await older.join();
    await other.join();
    await older.recordEvents();

    const newer = await demo.open("replace", "Ada (phone)", "ada");
    const newerId = await newer.join();

    await older.waitForState("disconnected", 5000);
    expect(await older.message()).to.match(/replaced/i);
    // Nothing comes back on its own: no socket, no rejoin.
    await sleep(3000);
    expect(await older.state()).to.equal("disconnected");
    expect(await older.socketConnected()).to.equal(false);
    expect((await older.events()).joinedEvents).to.deep.equal([]);
    expect(await older.listedIds()).to.deep.equal([]);

    await other.page.waitForFunction(
      (id) =>
        !(
          globalThis as unknown as { sfuDemo: { client: { participants: Map<string, unknown> } } }
        ).sfuDemo.client.participants.has(id),
      olderId,
      { timeout: 5000 },
    );
    expect(await other.participantIds()).to.deep.equal([newerId]);
    expect(await newer.state()).to.equal("connected");
  });
  it("restarts ICE on demand with new credentials, audio still flowing both ways", async () => {
    const first = await demo.open("ice", "Ada Lovelace");
    const second = await demo.open("ice", "Grace Hopper");
    const ids = [await first.join(), await second.join()];
    await Promise.all(demo.pages.map((page) => page.waitForRemoteAudio(1)));
    await first.recordEvents();
    // Restart a settled connection, as after a network change: audio flows both ways first.
    const [settledAtSecond, settledAtFirst] = await Promise.all([
      packetsDuringSample(second),
      packetsDuringSample(first),
    ]);
    expect(settledAtSecond[ids[0]!]).to.be.at.least(MIN_PACKETS);
    expect(settledAtFirst[ids[1]!]).to.be.at.least(MIN_PACKETS);

    const before = await first.iceUfrags();
    await first.restartIce();
    const after = await first.iceUfrags();
    expect(after.local, "new local ICE credentials").to.not.equal(before.local);
    expect(after.remote, "new ICE credentials from the SFU").to.not.equal(before.remote);
    await first.waitForState("connected", 10_000);

    const [atSecond, atFirst] = await Promise.all([packetsDuringSample(second), packetsDuringSample(first)]);
    expect(atSecond[ids[0]!]).to.be.at.least(MIN_PACKETS);
    expect(atFirst[ids[1]!]).to.be.at.least(MIN_PACKETS);
    expect((await first.events()).joinedEvents, "no rejoin").to.deep.equal([]);
  });

  it("lets a listen-only participant hear the room, then be heard once it publishes", async () => {
    const speaker = await demo.open("listen", "Ada Lovelace");
    const listener = await demo.open("listen", "Grace Hopper");
    const speakerId = await speaker.join();
    const listenerId = await listener.joinListenOnly("listen", "grace");
    await listener.waitForRemoteAudio(1);
    expect((await packetsDuringSample(listener))[speakerId]).to.be.at.least(MIN_PACKETS);
    expect(await speaker.participantIds()).to.deep.equal([listenerId]);
    expect((await speaker.inboundPackets())[listenerId], "nothing from a listener").to.equal(undefined);

    await listener.publishMicrophone();
    await speaker.waitForRemoteAudio(1);
    expect((await packetsDuringSample(speaker))[listenerId]).to.be.at.least(MIN_PACKETS);

    await listener.unpublish();
    await sleep(1000);
    const afterUnpublish = (await packetsDuringSample(speaker))[listenerId] ?? 0;
    expect(afterUnpublish, "no packets after unpublish").to.be.at.most(2);
    expect(await listener.state()).to.equal("connected");
    expect((await packetsDuringSample(listener))[speakerId], "still hears the room").to.be.at.least(
      MIN_PACKETS,
    );
  });
});
