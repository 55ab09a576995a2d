import { expect } from "chai";
import request from "supertest";
import type { PeerSnapshot } from "../../lib/types.js";
import { useCoturn } from "../helpers/coturn.js";
import { sleep } from "../helpers/wait.js";
import { useDemoBrowser } from "./useDemoBrowser.js";

const SAMPLE_MS = 2000;
/** RMS above this is audio (Chrome's fake microphone beeps at about 0.45). */
const AUDIBLE = 0.05;

describe("Chromium pages relaying through TURN/TCP (a real coturn)", function () {
  this.timeout(90_000);
  this.slow(20_000);
  const coturn = useCoturn();
  // The SFU tells the pages to relay only (joined.iceTransportPolicy), and they reach coturn over TCP.
  const demo = useDemoBrowser(() => ({
    TURN_URLS: coturn.turn.url("tcp"),
    TURN_SECRET: coturn.turn.secret,
    ICE_RELAY_ONLY_CLIENTS: "true",
  }));

  it("lets two pages with iceTransportPolicy relay hear each other", async () => {
    const ada = await demo.open("turn-tcp", "Ada Lovelace");
    const grace = await demo.open("turn-tcp", "Grace Hopper");
    const adaId = await ada.join();
    const graceId = await grace.join();
    await Promise.all([ada.waitForRemoteAudio(1), grace.waitForRemoteAudio(1)]);

    const before = await Promise.all([ada.inboundPackets(), grace.inboundPackets()]);
    await sleep(SAMPLE_MS);
    const after = await Promise.all([ada.inboundPackets(), grace.inboundPackets()]);
    expect(after[0][graceId]! - (before[0][graceId] ?? 0), "Ada receives Grace").to.be.at.least(40);
    expect(after[1][adaId]! - (before[1][adaId] ?? 0), "Grace receives Ada").to.be.at.least(40);
    const peaks = await Promise.all([ada.peakLevels(), grace.peakLevels()]);
    expect(peaks[0][graceId], "Ada hears Grace").to.be.above(AUDIBLE);
    expect(peaks[1][adaId], "Grace hears Ada").to.be.above(AUDIBLE);

    for (const page of [ada, grace]) {
      expect(await page.selectedLocalCandidate(), `${page.name} sends through coturn over TCP`).to.deep.equal(
        {
          type: "relay",
          relayProtocol: "tcp",
        },
      );
    }
    const res = await request(demo.server.url).get("/debug/peers").expect(200);
    for (const row of (res.body as { peers: PeerSnapshot[] }).peers) {
      expect(row.selectedPair?.remote, `the SFU sees ${row.userId} at its relayed address`).to.be.oneOf([
        "relay",
        "prflx",
      ]);
    }
  });
});
