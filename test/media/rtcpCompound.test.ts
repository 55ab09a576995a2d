import { expect } from "chai";
import { RtcpPacketConverter, RtcpReceiverInfo, RtcpRrPacket, RtcpSenderInfo, RtcpSrPacket } from "werift";
import {
  MAX_COMPOUND_BYTES,
  packCompounds,
  reportSize,
  type RtcpReport,
} from "../../lib/media/rtcpCompound.js";

function senderReport(ssrc: number): RtcpSrPacket {
  return new RtcpSrPacket({
    ssrc,
    senderInfo: new RtcpSenderInfo({
      ntpTimestamp: 1n << 32n,
      rtpTimestamp: 960,
      packetCount: 5,
      octetCount: 500,
    }),
  });
}

function receiverReport(ssrc: number, blocks: number): RtcpRrPacket {
  const reports = Array.from(
    { length: blocks },
    (_, i) => new RtcpReceiverInfo({ ssrc: 1000 + i, highestSequence: i }),
  );
  return new RtcpRrPacket({ ssrc, reports });
}

const bytes = (compound: RtcpReport[]) =>
  compound.reduce((sum, report) => sum + report.serialize().length, 0);

describe("RTCP compounds", () => {
  it("gives each report its serialized size", () => {
    for (const report of [
      senderReport(1),
      receiverReport(2, 0),
      receiverReport(3, 1),
      receiverReport(4, 5),
    ]) {
      expect(reportSize(report)).to.equal(report.serialize().length);
    }
  });

  it("sends a room of 25's interval (24 sender reports and a receiver report) as one compound", () => {
    const reports: RtcpReport[] = [
      ...Array.from({ length: 24 }, (_, i) => senderReport(i + 1)),
      receiverReport(99, 1),
    ];
    const compounds = packCompounds(reports);
    expect(compounds).to.have.length(1);
    expect(compounds[0]).to.deep.equal(reports);
    expect(bytes(compounds[0]!)).to.be.at.most(MAX_COMPOUND_BYTES);
    // werift reads every report of the compound back.
    const parsed = RtcpPacketConverter.deSerialize(Buffer.concat(compounds[0]!.map((r) => r.serialize())));
    expect(parsed.map((p) => (p as RtcpReport).ssrc)).to.deep.equal(reports.map((r) => r.ssrc));
  });

  it("splits what does not fit into compounds under the limit, in order, none empty", () => {
    const reports: RtcpReport[] = [
      ...Array.from({ length: 90 }, (_, i) => senderReport(i + 1)),
      receiverReport(200, 31),
      receiverReport(201, 2),
    ];
    const compounds = packCompounds(reports);
    expect(compounds.length).to.be.greaterThan(1);
    expect(compounds.flat()).to.deep.equal(reports);
    for (const compound of compounds) {
      expect(compound).to.not.have.length(0);
      expect(bytes(compound)).to.be.at.most(MAX_COMPOUND_BYTES);
    }
  });

  it("sends a report larger than the limit alone, and nothing for no reports", () => {
    const big = receiverReport(7, 31);
    const compounds = packCompounds([senderReport(1), big, senderReport(2)], 500);
    expect(compounds).to.deep.equal([[senderReport(1)], [big], [senderReport(2)]]);
    expect(packCompounds([])).to.deep.equal([]);
  });
});
