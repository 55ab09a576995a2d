import { expect } from "chai";
import { MediaStreamTrack, RTCPeerConnection, useSdesMid } from "werift";
import { useSfu } from "../helpers/fixture.js";
import { loopbackPeer } from "../helpers/loopbackPeer.js";
import { sendAudio } from "../helpers/MediaClient.js";
import { waitFor } from "../helpers/wait.js";

describe("offers the SFU only partly accepts", function () {
  this.timeout(30_000);
  const sfu = useSfu();

  it("rejects a video m-line with port 0 and keeps the audio working", async () => {
    const listener = await sfu.join("mixed", "listener", { publish: false });
    const signaling = await sfu.connect();
    const pc = loopbackPeer({ headerExtensions: { audio: [useSdesMid()] } });
    const microphone = new MediaStreamTrack({ kind: "audio" });
    let sending: NodeJS.Timeout | undefined;
    try {
      const joined = await signaling.join({ roomId: "mixed", userId: "mixed" });
      pc.onIceCandidate.subscribe((candidate) => {
        if (candidate) void signaling.request("ice-candidate", candidate.toJSON());
      });
      pc.addTransceiver(microphone, { direction: "sendrecv" });
      pc.addTransceiver("video", { direction: "sendrecv" });
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      const ack = await signaling.request("offer", { type: "offer", sdp: pc.localDescription!.sdp });
      expect(ack).to.deep.equal({ ok: true });
      const answer = await signaling.waitForEvent("answer");
      const mLines = answer.sdp.split("\r\n").filter((l) => l.startsWith("m="));
      expect(mLines).to.have.length(2);
      expect(mLines[0]).to.match(/^m=audio [1-9]\d* /);
      expect(mLines[1]).to.match(/^m=video 0 /);
      expect(answer.sdp).to.match(/a=group:BUNDLE 0\r\n/);
      await pc.setRemoteDescription(answer);
      await waitFor(
        () => sfu.server.service.trackSnapshots().some((t) => t.peerId === joined.peerId),
        10_000,
        "the audio track to be published",
      );
      await waitFor(
        () => listener.trackStreams.includes(joined.peerId),
        10_000,
        "the listener to get the track",
      );
      sending = sendAudio(microphone, "mixed");
      await listener.waitForPackets(joined.peerId, 25);
      const heard = listener.stats(joined.peerId)!;
      expect(heard.corrupt, "payloads changed on the way").to.equal(0);
      expect([...heard.sources]).to.deep.equal(["mixed"]);
    } finally {
      clearInterval(sending);
      await pc.close();
    }
  });

  it("refuses an offer with a data channel with a clear BAD_REQUEST and keeps the session usable", async () => {
    const client = await sfu.join("dc", "dc", { publish: false });
    const pc = new RTCPeerConnection({ iceServers: [], iceUseIpv6: false });
    try {
      pc.addTransceiver("audio", { direction: "sendrecv" });
      pc.createDataChannel("chat");
      await pc.setLocalDescription(await pc.createOffer());
      const ack = await client.signaling.request("offer", { type: "offer", sdp: pc.localDescription!.sdp });
      expect(ack).to.deep.equal({
        ok: false,
        error: {
          code: "BAD_REQUEST",
          message: "this SFU carries audio only: data channels are not supported",
        },
      });
      await client.offer();
      expect(client.pc.connectionState).to.be.oneOf(["connecting", "connected"]);
    } finally {
      await pc.close();
    }
  });
});
