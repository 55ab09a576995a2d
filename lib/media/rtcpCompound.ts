import { RtcpSrPacket, type RtcpRrPacket } from "werift";

/** A report the SFU sends: a sender report or a receiver report. */
export type RtcpReport = RtcpSrPacket | RtcpRrPacket;

/**
 * RTCP bytes per compound packet: with SRTCP's index and tag (at most 20
 * bytes) it stays under the 1200-byte datagrams WebRTC assumes.
 */
export const MAX_COMPOUND_BYTES = 1100;

/** Serialized size of a report: an 8-byte header, SR sender info, 24 bytes per report block. */
export function reportSize(report: RtcpReport): number {
  return 8 + (report instanceof RtcpSrPacket ? 20 : 0) + 24 * report.reports.length;
}

/**
 * Packs one report interval's reports into as few compound packets as fit
 * `maxBytes` each, in order: every compound opens with a report, as RFC 3550
 * §6.1 asks, since all of them are reports. A report larger than `maxBytes`
 * goes alone.
 */
export function packCompounds(reports: readonly RtcpReport[], maxBytes = MAX_COMPOUND_BYTES): RtcpReport[][] {
  const compounds: RtcpReport[][] = [];
  let current: RtcpReport[] = [];
  let bytes = 0;
  for (const report of reports) {
    const size = reportSize(report);
    if (current.length > 0 && bytes + size > maxBytes) {
      compounds.push(current);
      current = [];
      bytes = 0;
    }
    current.push(report);
    bytes += size;
  }
  if (current.length > 0) compounds.push(current);
  return compounds;
}
