import { expect } from "chai";
import { MediaStreamTrack, useAudioLevelIndication, useSdesMid } from "werift";
import { closedOffer } from "../helpers/loopbackPeer.js";
import { useSfu } from "../helpers/fixture.js";
import type { SignalingClient } from "../helpers/SignalingClient.js";

/** What a werift client offers in a room of `peers` at MAX_PEERS_PER_ROOM: one m-line per participant. */
function fullRoomOffer(peers: number): Promise<string> {
  return closedOffer(
    (pc) => {
      pc.addTransceiver(new MediaStreamTrack({ kind: "audio" }), { direction: "sendrecv" });
      for (let i = 1; i < peers; i++) pc.addTransceiver("audio", { direction: "recvonly" });
    },
    {
      config: { headerExtensions: { audio: [useSdesMid(), useAudioLevelIndication()] } },
      waitForGathering: true,
    },
  );
}

describe("SDP size at MAX_PEERS_PER_ROOM", function () {
  this.timeout(30_000);
  // The defaults: MAX_PEERS_PER_ROOM=100, MAX_SDP_BYTES=131072.
  const sfu = useSfu();
  let client: SignalingClient;

  beforeEach(async () => {
    client = await sfu.connect();
    await client.join({ roomId: "full", userId: "u" });
  });

  it("answers the offer of a full room of 100 peers, over 64 KiB of SDP", async () => {
    const sdp = await fullRoomOffer(100);
    expect(sdp.length).to.be.above(64 * 1024);
    expect(await client.request("offer", { type: "offer", sdp })).to.deep.equal({ ok: true });
    const answer = await client.waitForEvent("answer");
    expect(answer.sdp.split("\r\n").filter((l) => l.startsWith("m=audio"))).to.have.length(100);
    expect(client.socket.connected).to.equal(true);
  });

  it("answers an SDP over MAX_SDP_BYTES with BAD_REQUEST and keeps the socket", async () => {
    const sdp = "v=0\r\n" + "a=x\r\n".repeat(27_000);
    expect(sdp.length).to.be.above(131_072);
    expect(await client.request("offer", { type: "offer", sdp })).to.deep.equal({
      ok: false,
      error: { code: "BAD_REQUEST", message: "sdp is larger than 131072 bytes" },
    });
    expect(await client.request("answer", { type: "answer", sdp })).to.deep.equal({
      ok: false,
      error: { code: "BAD_REQUEST", message: "sdp is larger than 131072 bytes" },
    });
    expect(client.socket.connected).to.equal(true);
    expect(await client.request("offer", { type: "offer", sdp: await fullRoomOffer(2) })).to.deep.equal({
      ok: true,
    });
  });
});
