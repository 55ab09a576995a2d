import { expect } from "chai";
import { sleep } from "../helpers/wait.js";
import { DemoPage } from "./DemoPage.js";
import { FirefoxBrowser } from "./FirefoxBrowser.js";
import type { BrowserName } from "./TestPage.js";
import { useDemoBrowser } from "./useDemoBrowser.js";

/** Packets one Opus sender emits in the sampling window (20 ms frames), with slack for jitter. */
const SAMPLE_MS = 2000;
const MIN_PACKETS = 40;
/** Mean decoded level (RMS) above which a source is heard: fake microphones decode at about 0.1 (Firefox) and 0.5 (Chromium). */
const AUDIBLE = 0.01;
/** Mean decoded level below which a source is silent: what a muted track decodes to. */
const SILENT = 0.001;
/** How long the audio sent before a mute may take to play out at the listeners. */
const MUTE_SETTLE_MS = 5000;

/** What a page got from one source during a sample: packets, and the mean level of the audio it decoded. */
interface Heard {
  packets: number;
  level: number;
}

/** Packets and decoded level per source peerId at `page` during `SAMPLE_MS`, from its receivers' stats. */
async function heardDuringSample(page: DemoPage): Promise<Record<string, Heard>> {
  const before = await page.inboundAudio();
  await sleep(SAMPLE_MS);
  const after = await page.inboundAudio();
  return Object.fromEntries(
    Object.entries(after).map(([peerId, now]) => {
      const then = before[peerId] ?? { packetsReceived: 0, totalAudioEnergy: 0, totalSamplesDuration: 0 };
      const seconds = now.totalSamplesDuration - then.totalSamplesDuration;
      const energy = now.totalAudioEnergy - then.totalAudioEnergy;
      return [
        peerId,
        {
          packets: now.packetsReceived - then.packetsReceived,
          level: seconds > 0 ? Math.sqrt(energy / seconds) : 0,
        },
      ];
    }),
  );
}

interface Joined {
  page: DemoPage;
  peerId: string;
}

/** Checks that every page hears every other one during one sample, and logs the figures. */
async function expectEveryoneHearsEveryone(joined: readonly Joined[]): Promise<void> {
  const samples = await Promise.all(joined.map(({ page }) => heardDuringSample(page)));
  const nameOf = new Map(joined.map(({ page, peerId }) => [peerId, page.name]));
  joined.forEach(({ page }, i) => {
    const from = Object.entries(samples[i]!).map(
      ([id, heard]) => `${nameOf.get(id) ?? id} ${heard.packets} pkts, level ${heard.level.toFixed(3)}`,
    );
    console.log(`      ${page.name} per ${SAMPLE_MS} ms: ${from.join("; ")}`);
  });
  joined.forEach(({ page, peerId }, i) => {
    for (const other of joined.filter((o) => o.peerId !== peerId)) {
      const heard = samples[i]![other.peerId];
      expect(heard, `${page.name} receives ${other.page.name}`).to.not.equal(undefined);
      expect(heard!.packets, `${page.name} receives packets from ${other.page.name}`).to.be.at.least(
        MIN_PACKETS,
      );
      expect(heard!.level, `${page.name} decodes ${other.page.name}'s audio`).to.be.above(AUDIBLE);
    }
  });
}

describe("the demo page in headless Firefox", function () {
  this.timeout(120_000);
  this.slow(30_000);
  const demo = useDemoBrowser({}, ["chromium", "firefox"]);

  /** Opens and joins the demo page once per entry, in order, in one room; waits until all hear all. */
  async function joinRoom(room: string, people: ReadonlyArray<[BrowserName, string]>): Promise<Joined[]> {
    const joined: Joined[] = [];
    for (const [browser, name] of people) {
      const page = await demo.openIn(browser, room, name);
      joined.push({ page, peerId: await page.join() });
    }
    await Promise.all(joined.map(({ page }) => page.waitForRemoteAudio(people.length - 1)));
    return joined;
  }

  it("lets three Firefox participants hear each other, and hear silence from one who mutes", async () => {
    const joined = await joinRoom("firefox-trio", [
      ["firefox", "Ada Lovelace"],
      ["firefox", "Grace Hopper"],
      ["firefox", "Linus Torvalds"],
    ]);
    const ids = joined.map(({ peerId }) => peerId);
    expect(new Set(ids).size).to.equal(3);
    for (const { page, peerId } of joined) {
      expect((await page.participantIds()).sort()).to.deep.equal(ids.filter((id) => id !== peerId).sort());
    }
    await expectEveryoneHearsEveryone(joined);

    // Ada mutes: her track sends silence, the SFU forwards none of it (PROTOCOL §12), the others decode silence.
    const [ada, ...listeners] = joined as [Joined, ...Joined[]];
    await ada.page.page.click("#mute");
    const settleBy = Date.now() + MUTE_SETTLE_MS;
    let samples: Array<Record<string, Heard>>;
    do {
      samples = await Promise.all(listeners.map(({ page }) => heardDuringSample(page)));
    } while (samples.some((sample) => sample[ada.peerId]!.level >= SILENT) && Date.now() < settleBy);
    samples = await Promise.all(listeners.map(({ page }) => heardDuringSample(page)));
    listeners.forEach(({ page }, i) => {
      const heard = samples[i]![ada.peerId]!;
      console.log(
        `      ${page.name} gets muted Ada: ${heard.packets} pkts, level ${heard.level.toFixed(4)}`,
      );
      expect(heard.packets, `the SFU forwards none of muted Ada's packets to ${page.name}`).to.equal(0);
      expect(heard.level, `${page.name} hears silence from muted Ada`).to.be.below(SILENT);
    });
  });

  it("joins from a Firefox whose AudioContext.resume() never settles (no audio output device), heard by the room", async () => {
    const grace = await demo.openIn("chromium", "no-output", "Grace (Chromium)");
    const graceId = await grace.join();
    // Its own Firefox, whose pages' resume() stays pending for ever, as in a Firefox without an audio output.
    const firefox = await FirefoxBrowser.launch();
    try {
      const ada = await DemoPage.open(
        firefox,
        demo.server.url,
        "no-output",
        "Ada (Firefox)",
        undefined,
        (page) =>
          page.addInitScript(() => {
            const audioContext = (
              globalThis as unknown as { AudioContext: { prototype: { resume(): Promise<void> } } }
            ).AudioContext;
            audioContext.prototype.resume = () => new Promise<void>(() => undefined);
          }, undefined),
      );
      try {
        const adaId = await ada.join();
        await Promise.all([ada.waitForRemoteAudio(1), grace.waitForRemoteAudio(1)]);
        const [atGrace, atAda] = await Promise.all([heardDuringSample(grace), heardDuringSample(ada)]);
        console.log(
          `      Grace gets Ada: ${atGrace[adaId]!.packets} pkts, level ${atGrace[adaId]!.level.toFixed(3)}; ` +
            `Ada gets Grace: ${atAda[graceId]!.packets} pkts`,
        );
        expect(atGrace[adaId]!.packets, "Grace receives Ada").to.be.at.least(MIN_PACKETS);
        expect(atGrace[adaId]!.level, "Grace decodes Ada's audio").to.be.above(AUDIBLE);
        expect(atAda[graceId]!.packets, "Ada receives Grace").to.be.at.least(MIN_PACKETS);
      } catch (error) {
        console.log(ada.console.slice(-40).join("\n"));
        throw error;
      } finally {
        await ada.close();
      }
    } finally {
      await firefox.close();
    }
  });

  it("lets Chromium and Firefox participants in one room hear each other, and go on after one leaves", async () => {
    const joined = await joinRoom("mixed", [
      ["firefox", "Ada (Firefox)"],
      ["chromium", "Grace (Chromium)"],
      ["firefox", "Linus (Firefox)"],
      ["chromium", "Margaret (Chromium)"],
    ]);
    await expectEveryoneHearsEveryone(joined);

    // The leaver's m-section is stopped in the SFU's next offer to each engine; both accept it.
    const leaver = joined[2]!;
    const stayers = joined.filter((entry) => entry !== leaver);
    await leaver.page.leave();
    await Promise.all(stayers.map(({ page }) => page.waitUntilUnlisted(leaver.peerId, 5000)));
    for (const { page } of stayers) expect(await page.state()).to.equal("connected");
    await expectEveryoneHearsEveryone(stayers);
  });
});
