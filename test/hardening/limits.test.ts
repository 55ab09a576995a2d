import { expect } from "chai";
import { MediaStreamTrack } from "werift";
import { useSfu } from "../helpers/fixture.js";
import { sleep } from "../helpers/wait.js";
import { closedOffer } from "../helpers/loopbackPeer.js";

/** An offer that publishes `tracks` audio tracks. */
async function offerWithTracks(tracks: number): Promise<string> {
  return closedOffer((pc) => {
    for (let i = 0; i < tracks; i++)
      pc.addTransceiver(new MediaStreamTrack({ kind: "audio" }), { direction: "sendonly" });
  });
}

describe("per-peer limits", function () {
  this.timeout(20_000);
  const sfu = useSfu();

  for (const limit of [1, 2]) {
    it(`publishes at most MAX_PUBLISHED_TRACKS=${limit} of a peer's three audio tracks`, async () => {
      const server = await sfu.restart({ MAX_PUBLISHED_TRACKS: String(limit) });
      const client = await sfu.connect();
      const joined = await client.join({ roomId: "limits", userId: "u" });
      const ack = await client.request("offer", { type: "offer", sdp: await offerWithTracks(3) });
      expect(ack.ok).to.equal(true);
      await sleep(300);
      const tracks = server.service.trackSnapshots().filter((t) => t.peerId === joined.peerId);
      expect(tracks).to.have.length(limit);
    });
  }
});
