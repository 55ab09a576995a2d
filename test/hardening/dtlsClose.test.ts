import { expect } from "chai";
import type { RTCPeerConnection } from "werift";
import { endDtlsHandshakes } from "../../lib/werift/dtls.js";
import { loopbackPeer } from "../helpers/loopbackPeer.js";
import { sleep, waitFor } from "../helpers/wait.js";

/** Timers pending in this process. */
const pendingTimers = () => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;

describe("a connection closed as its DTLS handshake starts", function () {
  this.timeout(20_000);
  const pcs: RTCPeerConnection[] = [];
  afterEach(async () => {
    await Promise.all(pcs.splice(0).map((pc) => pc.close()));
  });

  it("leaves no DTLS retransmission timer behind (werift's would run 33 s)", async () => {
    await sleep(0);
    const before = pendingTimers();
    const client = loopbackPeer();
    // The answerer takes the DTLS client's role, as the SFU does.
    const sfu = loopbackPeer();
    pcs.push(client, sfu);
    client.addTransceiver("audio", { direction: "sendonly" });
    await client.setLocalDescription(await client.createOffer());
    await sfu.setRemoteDescription(client.localDescription!);
    await sfu.setLocalDescription(await sfu.createAnswer());
    let closed = false;
    sfu.dtlsTransports[0]!.onStateChange.subscribe((state) => {
      if (state !== "connecting" || closed) return;
      closed = true;
      // As Peer.close does, in the 100 ms before werift sends the first flight (the socket exists by then).
      setImmediate(() => {
        endDtlsHandshakes(sfu);
        void sfu.close();
      });
    });
    await client.setRemoteDescription(sfu.localDescription!);
    await waitFor(() => closed, 10_000, "the SFU side's DTLS handshake to start");
    await sleep(300);
    await client.close();

    await waitFor(() => pendingTimers() <= before, 6_000, "timers back to where they were").catch(
      () => undefined,
    );
    expect(pendingTimers(), "pending timers").to.be.at.most(before);
  });
});
