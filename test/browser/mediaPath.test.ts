import { existsSync } from "node:fs";
import { expect } from "chai";
import { chromium, type Browser } from "playwright-core";
import { startServer, type TestServer } from "../helpers/server.js";
import { sleep, waitFor } from "../helpers/wait.js";
import { DemoPage } from "./DemoPage.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
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

/** What Chromium's getStats() says about the SFU's media, reduced to what the test checks. */
interface MediaStats {
  srtpCipher: string | undefined;
  inbound: Array<{ ssrc: number; packetsReceived: number; packetsLost: number }>;
  /** From the SFU's RTCP sender reports on forwarded tracks. */
  remoteOutbound: Array<{ ssrc: number; packetsSent: number; remoteTimestamp: number }>;
  /** From the SFU's RTCP receiver reports on this page's microphone. */
  remoteInbound: Array<{ ssrc: number; packetsLost: number; fractionLost: number; jitter: number }>;
}

/**
 * Runs inside the page. Plain JavaScript in a string: the test runner's
 * transform would wrap named functions in helpers the page does not have.
 */
const READ_MEDIA_STATS = `(async () => {
  const stats = [...(await sfuDemo.client.peerConnection.getStats()).values()];
  const of = (type) => stats.filter((s) => s.type === type);
  return {
    srtpCipher: of("transport")[0]?.srtpCipher,
    inbound: of("inbound-rtp").map((s) => ({ ssrc: s.ssrc, packetsReceived: s.packetsReceived, packetsLost: s.packetsLost })),
    remoteOutbound: of("remote-outbound-rtp").map((s) => ({ ssrc: s.ssrc, packetsSent: s.packetsSent, remoteTimestamp: s.remoteTimestamp })),
    remoteInbound: of("remote-inbound-rtp").map((s) => ({ ssrc: s.ssrc, packetsLost: s.packetsLost, fractionLost: s.fractionLost, jitter: s.jitter })),
  };
})()`;

describe("the SFU's media path as Chromium sees it", function () {
  this.timeout(90_000);
  this.slow(20_000);
  let browser: Browser | undefined;
  let server: TestServer | undefined;
  let pages: DemoPage[] = [];

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      if (process.env.CI)
        throw new Error(`${CHROMIUM} is absent; install it with: apt-get install -y chromium`);
      console.log(`    skipping: ${CHROMIUM} is absent (install it with: apt-get install -y chromium)`);
      this.skip();
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close();
  });

  beforeEach(async () => {
    server = await startServer();
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

  it("gets SRTP it authenticates, sender reports for every forwarded track and receiver reports for its microphone", async () => {
    const joined: DemoPage[] = [];
    for (const name of ["Ada", "Grace", "Linus"]) {
      const page = await DemoPage.open(browser!, server!.url, "rtcp", name);
      pages.push(page);
      await page.join();
      joined.push(page);
    }
    await Promise.all(joined.map((page) => page.waitForRemoteAudio(2)));
    const room = server!.service.getRoom("rtcp")!;
    await waitFor(() => room.tracks.length === 3, 10_000, "three published tracks");
    for (const track of room.tracks) {
      expect(track.fastPath, "publisher's packets arrive on the SFU's own receive path").to.equal(true);
      await waitFor(() => track.fastSubscribers === 2, 10_000, "both subscribers on the fast send path");
    }

    // RTCP reports go out about once a second; give every stream a few.
    await sleep(3500);
    for (const page of joined) {
      const stats = await page.page.evaluate<MediaStats>(READ_MEDIA_STATS);
      console.log(`      ${page.name}: SRTP ${stats.srtpCipher}, ${JSON.stringify(stats.remoteInbound)}`);
      expect(stats.inbound, `${page.name} receives two forwarded tracks`).to.have.length(2);
      for (const inbound of stats.inbound) {
        expect(inbound.packetsReceived, `${page.name} authenticated packets`).to.be.above(100);
        expect(inbound.packetsLost).to.equal(0);
      }
      const reported = new Set(stats.remoteOutbound.map((s) => s.ssrc));
      for (const inbound of stats.inbound) {
        expect(reported.has(inbound.ssrc), `${page.name} got sender reports for ${inbound.ssrc}`).to.equal(
          true,
        );
      }
      for (const report of stats.remoteOutbound) {
        expect(report.packetsSent).to.be.above(50);
        // The report's NTP time is the SFU's wall clock: within a few seconds of the page's.
        expect(Math.abs(report.remoteTimestamp - Date.now())).to.be.below(5000);
      }
      expect(stats.remoteInbound, `${page.name} got receiver reports for its microphone`).to.have.length(1);
      expect(stats.remoteInbound[0]!.packetsLost).to.equal(0);
      expect(stats.remoteInbound[0]!.fractionLost).to.equal(0);
    }
  });
});
