import { existsSync } from "node:fs";
import { expect } from "chai";
import { chromium, type Browser } from "playwright-core";
import { startServer, type TestServer } from "../helpers/server.js";
import { sleep } from "../helpers/wait.js";
import { DemoPage } from "./DemoPage.js";

const CHROMIUM = "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--use-fake-device-for-media-stream",
  "--use-fake-ui-for-media-stream",
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];
/** Packets one Opus sender emits in the sampling window (20 ms frames), with slack for jitter. */
const SAMPLE_MS = 2000;
const MIN_PACKETS = 40;
/** RMS above this is audio, not silence (Chrome's fake microphone beeps at a fraction of full scale). */
const AUDIBLE = 0.005;

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
  let browser: Browser | undefined;
  let server: TestServer | undefined;
  let pages: DemoPage[] = [];

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      console.log(`    skipping: ${CHROMIUM} is absent (install it with: apt-get install -y chromium)`);
      this.skip();
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close();
  });

  beforeEach(async () => {
    // A resume must fit in the grace period even when the reconnect backs off once.
    server = await startServer({ RECONNECT_GRACE_MS: "15000" });
  });

  afterEach(async function () {
    if (this.currentTest?.state === "failed") {
      for (const page of pages) console.log(page.console.slice(-40).join("\n"));
    }
    await Promise.all(pages.map((page) => page.close()));
    pages = [];
    await server?.close();
    server = undefined;
  });

  /** Opens and joins three demo pages in one room; returns them with their peerIds. */
  async function joinThree(room: string): Promise<Array<{ page: DemoPage; peerId: string }>> {
    const names = ["Ada Lovelace", "Grace Hopper", "Linus Torvalds"];
    const joined: Array<{ page: DemoPage; peerId: string }> = [];
    for (const name of names) {
      const page = await DemoPage.open(browser!, server!.url, room, name);
      pages.push(page);
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
    console.log(`      packets per ${SAMPLE_MS} ms: ${JSON.stringify(samples.map((s) => Object.values(s)))}`);
    console.log(
      `      peak levels: ${JSON.stringify(peaks.map((p) => Object.values(p).map((v) => +v.toFixed(3))))}`,
    );

    const screenshot = process.env.SFU_DEMO_SCREENSHOT;
    if (screenshot) {
      const page = joined[0]!.page.page;
      // Catch a moment when someone's speaking indicator is lit.
      await page.waitForSelector("li.participant.speaking", { timeout: 5000 }).catch(() => undefined);
      await page.screenshot({ path: screenshot, fullPage: true });
    }
  });

  it("resumes a page whose socket dropped with the same peerId, unseen by the others, audio still flowing", async () => {
    const joined = await joinThree("resume");
    const [dropped, ...others] = joined as [(typeof joined)[0], ...typeof joined];
    await Promise.all(joined.map(({ page }) => page.recordEvents()));

    const oldSocket = await dropped.page.dropSocket();
    await dropped.page.page.waitForFunction(
      (old) => {
        const demo = (globalThis as unknown as { sfuDemo: { client: { socket: { id?: string } } } }).sfuDemo;
        return demo.client.socket.id !== undefined && demo.client.socket.id !== old;
      },
      oldSocket,
      { timeout: 15_000 },
    );
    await dropped.page.page.waitForFunction(
      () => {
        const events = (globalThis as unknown as { testEvents: { joinedEvents: unknown[] } }).testEvents;
        return events.joinedEvents.length > 0;
      },
      undefined,
      { timeout: 15_000 },
    );
    const events = await dropped.page.events();
    expect(events.joinedEvents).to.deep.equal([{ roomId: "resume", peerId: dropped.peerId, resumed: true }]);
    expect(await dropped.page.peerId()).to.equal(dropped.peerId);
    expect(events.states).to.include("reconnecting");
    await dropped.page.page.waitForFunction(
      () =>
        (globalThis as unknown as { sfuDemo: { client: { state: string } } }).sfuDemo.client.state ===
        "connected",
    );

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
    console.log(
      `      after resume, packets per ${SAMPLE_MS} ms: ${JSON.stringify(samples)} / ${JSON.stringify(back)}`,
    );
  });

  it("drops a participant who leaves from the others' lists within a second", async () => {
    const joined = await joinThree("leave");
    const [stay1, stay2, leaver] = joined as [(typeof joined)[0], (typeof joined)[0], (typeof joined)[0]];

    const started = Date.now();
    await leaver.page.leave();
    await Promise.all(
      [stay1, stay2].map(({ page }) =>
        page.page.waitForFunction(
          (id) => {
            const { document } = globalThis as unknown as { document: { querySelector(s: string): unknown } };
            return !document.querySelector(`#participants li[data-peer-id="${id}"]`);
          },
          leaver.peerId,
          { timeout: 1000 },
        ),
      ),
    );
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
});
