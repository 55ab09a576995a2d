import { expect } from "chai";
import { sleep, waitFor } from "../helpers/wait.js";
import type { DemoPage } from "./DemoPage.js";
import { useDemoBrowser } from "./useDemoBrowser.js";

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
  const demo = useDemoBrowser();

  it("gets SRTP it authenticates, sender reports for every forwarded track and receiver reports for its microphone", async () => {
    const joined: DemoPage[] = [];
    for (const name of ["Ada", "Grace", "Linus"]) {
      const page = await demo.open("rtcp", name);
      await page.join();
      joined.push(page);
    }
    await Promise.all(joined.map((page) => page.waitForRemoteAudio(2)));
    const room = demo.server.service.getRoom("rtcp")!;
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
