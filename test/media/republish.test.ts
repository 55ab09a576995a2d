import { expect } from "chai";
import { RtpHeader, RtpPacket } from "werift";
import { useSfu } from "../helpers/fixture.js";
import { expectedPayload } from "../helpers/MediaClient.js";
import { sleep, waitFor } from "../helpers/wait.js";

describe("a publisher that stops and resumes sending on the same SSRC", function () {
  this.timeout(60_000);
  const sfu = useSfu();

  it("is heard again after unmuting once its sequence number has wrapped", async () => {
    const alice = await sfu.join("wrap", "alice");
    const bob = await sfu.join("wrap", "bob", { publish: false });
    const transceiver = alice.pc.getTransceivers()[0]!;
    const microphone = transceiver.sender.track!;
    const room = sfu.server.service.getRoom("wrap")!;
    const published = await waitFor(() => room.tracks[0], 5000, "alice's track");
    await waitFor(() => alice.pc.connectionState === "connected", 5000, "alice connected");
    await waitFor(() => published.subscriberCount === 1, 5000, "bob subscribed");

    // Numbered by hand, as a browser whose random first sequence number was near the top of the range.
    let seq = 65_400;
    const send = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i++, seq++) {
        const header = new RtpHeader({
          payloadType: 111,
          sequenceNumber: seq & 0xffff,
          timestamp: seq * 960,
        });
        microphone.writeRtp(new RtpPacket(header, expectedPayload("alice", seq)));
        await sleep(2);
      }
    };
    await send(250);
    await waitFor(() => published.packetsReceived === 250, 5000, "the SFU got every packet across the wrap");

    // Mute by renegotiating the m-line to recvonly, as a browser app can, then unmute.
    transceiver.setDirection("recvonly");
    await alice.offer();
    await waitFor(() => room.tracks.length === 0, 5000, "alice's track withdrawn");
    transceiver.setDirection("sendrecv");
    await alice.offer();
    const track = await waitFor(() => room.tracks[0], 5000, "alice's track again");
    expect(track.fastPath, "re-published track on the SFU's receive path").to.equal(true);
    await waitFor(() => track.subscriberCount === 1, 5000, "bob subscribed again");

    const before = bob.packetsFrom(alice.peerId);
    // Sent until bob hears 50 of them: the first few may go out before bob's renegotiation completes.
    let sent = 0;
    while (bob.packetsFrom(alice.peerId) - before < 50 && sent < 1000) {
      await send(10);
      sent += 10;
    }
    expect(bob.packetsFrom(alice.peerId) - before, "packets bob heard after alice unmuted").to.be.at.least(
      50,
    );
    expect(bob.stats(alice.peerId)!.corrupt).to.equal(0);
    await waitFor(() => track.packetsReceived === sent, 2000, "the SFU took every packet after unmuting");
  });
});
