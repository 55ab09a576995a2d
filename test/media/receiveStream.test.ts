import { expect } from "chai";
import type { RtcpReceiverInfo } from "werift";
import { RtpReceiveStream } from "../../lib/media/RtpReceiveStream.js";
import { fakeReceiver } from "../helpers/fakeReceiver.js";

/** Opus at 48 kHz, one packet every 20 ms. */
const TICKS = 960;
const INTERVAL_MS = 20;

/** A receive stream whose transport and werift receiver are stand-ins: only its statistics are under test. */
function stream(): RtpReceiveStream {
  return new RtpReceiveStream({
    ssrc: 42,
    payloadType: 111,
    clockRate: 48_000,
    receiver: fakeReceiver(),
    onPacket() {},
    onClose() {},
  });
}

/** One packet, numbered `seq`, of a perfectly paced sender, arriving when packet `arrivalSeq` is due. */
function packet(target: RtpReceiveStream, seq: number, arrivalSeq = seq, tsBase = 0): void {
  target.received(seq & 0xffff, (tsBase + seq * TICKS) >>> 0, arrivalSeq * INTERVAL_MS);
}

/** Packets arriving on time. */
function feed(target: RtpReceiveStream, seqs: Iterable<number>, tsBase = 0): void {
  for (const seq of seqs) packet(target, seq, seq, tsBase);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

function report(target: RtpReceiveStream): RtcpReceiverInfo {
  const block = target.receiverReport();
  expect(block, "a report block").to.not.equal(undefined);
  return block!;
}

describe("RtpReceiveStream reception statistics (RFC 3550 A.1, A.8)", () => {
  it("does not restart the statistics for one stray packet far behind", () => {
    const s = stream();
    feed(s, range(0, 1000));
    report(s);
    // A duplicate from six seconds earlier, then the stream goes on without loss.
    packet(s, 700, 1000);
    feed(s, range(1000, 1050));
    const block = report(s);
    expect(block.fractionLost).to.equal(0);
    expect(block.packetsLost).to.equal(0);
    expect(block.highestSequence).to.equal(1049);
    expect(block.jitter).to.equal(0);
  });

  it("does not restart the statistics for one stray packet far ahead, and still counts real loss", () => {
    const s = stream();
    feed(s, range(0, 1000));
    report(s);
    feed(s, range(1000, 1020));
    packet(s, 9000, 1020);
    // 1030-1039 are lost.
    feed(s, [...range(1020, 1030), ...range(1040, 1050)]);
    const block = report(s);
    expect(block.fractionLost).to.equal(Math.floor((10 * 256) / 50));
    expect(block.packetsLost).to.equal(10);
    expect(block.highestSequence).to.equal(1049);
    // The stray packet's transit is not part of the jitter either.
    expect(block.jitter).to.equal(0);
  });

  it("restarts counting when the packet after a jump follows it, without a jitter spike", () => {
    const s = stream();
    feed(s, range(0, 100));
    report(s);
    // The sender restarted its numbering and its timestamps.
    feed(s, range(40_000, 40_050), 123_456_789);
    const block = report(s);
    // Counting starts at 40001, the packet that confirmed the jump.
    expect(block.highestSequence).to.equal(40_049);
    expect(block.packetsLost).to.equal(0);
    expect(block.fractionLost).to.equal(0);
    expect(block.jitter).to.equal(0);
    // Loss after the restart is measured against the new base alone.
    feed(s, range(40_060, 40_100), 123_456_789);
    const next = report(s);
    expect(next.packetsLost).to.equal(10);
    expect(next.fractionLost).to.equal(Math.floor((10 * 256) / 50));
    expect(next.highestSequence).to.equal(40_099);
  });

  it("reports after a restart even when as many packets arrived as at the last report", () => {
    const s = stream();
    feed(s, [0, 1]);
    report(s);
    feed(s, [40_000, 40_001, 40_002]);
    const block = report(s);
    expect(block.highestSequence).to.equal(40_002);
    expect(block.packetsLost).to.equal(0);
  });

  it("extends the highest sequence number across the wrap", () => {
    const s = stream();
    feed(s, range(65_500, 65_536 + 50));
    const block = report(s);
    expect(block.highestSequence).to.equal(65_536 + 49);
    expect(block.packetsLost).to.equal(0);
  });

  it("keeps the jitter steady across the RTP timestamp wrap", () => {
    // The same arrival pattern (alternately 2 ms early and late), without and with a timestamp wrap.
    const jitter = (tsBase: number): number => {
      const s = stream();
      for (let seq = 0; seq < 200; seq++) {
        s.received(seq, (tsBase + seq * TICKS) >>> 0, seq * INTERVAL_MS + (seq % 2 ? 2 : -2));
      }
      return report(s).jitter;
    };
    const plain = jitter(0);
    const wrapped = jitter(0x1_0000_0000 - 100 * TICKS);
    expect(plain).to.be.within(150, 200);
    expect(wrapped).to.equal(plain);

    const paced = stream();
    feed(paced, range(0, 20), 0x1_0000_0000 - 10 * TICKS);
    expect(report(paced).jitter).to.equal(0);
  });
});
