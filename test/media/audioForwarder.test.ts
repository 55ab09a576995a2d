import { expect } from "chai";
import { MediaStreamTrack, RtpHeader, RtpPacket, type RTCRtpTransceiver } from "werift";
import { createSilentLogger, type Logger } from "../../lib/logger.js";
import { MediaTransport } from "../../lib/media/MediaTransport.js";
import type { RtpView } from "../../lib/media/rtp.js";
import { AudioForwarder } from "../../lib/sfu/AudioForwarder.js";
import type { ForwardedTrack } from "../../lib/sfu/ForwardedTrack.js";
import { PeerControls } from "../../lib/sfu/PeerControls.js";
import { SpeechMeter } from "../../lib/sfu/SpeechMeter.js";

/** A logger that keeps the errors it is given. */
function recordingLogger(errors: unknown[]): Logger {
  const logger = {
    child: () => logger,
    info: () => logger,
    error: (message: string) => {
      errors.push(message);
      return logger;
    },
  };
  return logger as unknown as Logger;
}

/** A subscriber that records the sequence numbers it is given, or throws on each. */
function subscriber(heard: number[], fail = false): ForwardedTrack {
  return {
    write(view: RtpView): boolean {
      if (fail) throw new Error("subscriber's send failed");
      heard.push(view.sequenceNumber);
      return true;
    },
  } as unknown as ForwardedTrack;
}

describe("AudioForwarder", () => {
  it("forwards to every other subscriber when one subscriber's write throws, and logs it once", () => {
    const errors: unknown[] = [];
    const totals = { packetsForwarded: 0, bytesForwarded: 0 };
    // No signalled SSRC: packets come through werift's track event.
    const track = new MediaStreamTrack({ kind: "audio" });
    const transceiver = { headerExtensions: [], receiver: {} } as unknown as RTCRtpTransceiver;
    const forwarder = new AudioForwarder({
      roomId: "room",
      peerId: "alice",
      transceiver,
      track,
      transport: new MediaTransport({ logger: createSilentLogger() }),
      totals,
      controls: new PeerControls(),
      speech: new SpeechMeter(4),
      logger: recordingLogger(errors),
    });
    const first: number[] = [];
    const third: number[] = [];
    forwarder.addSubscriber(subscriber(first));
    forwarder.addSubscriber(subscriber([], true));
    forwarder.addSubscriber(subscriber(third));

    for (const seq of [1, 2, 3]) {
      const header = new RtpHeader({ payloadType: 111, sequenceNumber: seq, timestamp: seq * 960, ssrc: 7 });
      track.onReceiveRtp.execute(new RtpPacket(header, Buffer.alloc(50)));
    }

    expect(first).to.deep.equal([1, 2, 3]);
    expect(third).to.deep.equal([1, 2, 3]);
    expect(errors).to.have.length(1);
    expect(forwarder.packetsForwarded).to.equal(6);
    expect(totals.bytesForwarded).to.equal(6 * 50);
    forwarder.close();
  });
});
