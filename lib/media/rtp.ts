/** RTP packet parsing and writing on raw buffers (RFC 3550, RFC 8285), for the per-packet paths. */

/**
 * One received RTP packet as the forwarding code reads it. Parsers fill one
 * object per source and reuse it for every packet, so it is only valid during
 * the call it is passed to.
 */
export interface RtpView {
  marker: boolean;
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  /** The payload without header or padding; a view into the received datagram. */
  payload: Buffer;
  /** The RFC 6464 audio-level byte (V flag and level), or -1 when the packet has none. */
  audioLevel: number;
}

export function createRtpView(): RtpView {
  return {
    marker: false,
    payloadType: 0,
    sequenceNumber: 0,
    timestamp: 0,
    ssrc: 0,
    payload: Buffer.alloc(0),
    audioLevel: -1,
  };
}

/** Length of the RTP header in `packet[0, end)` (fixed part, CSRCs, extension), or -1 if malformed. */
export function rtpHeaderLength(packet: Uint8Array, end: number): number {
  if (end < 12 || (packet[0]! & 0xc0) !== 0x80) return -1;
  let length = 12 + 4 * (packet[0]! & 0x0f);
  if (packet[0]! & 0x10) {
    if (length + 4 > end) return -1;
    length += 4 + 4 * ((packet[length + 2]! << 8) | packet[length + 3]!);
  }
  return length <= end ? length : -1;
}

/**
 * Fills `view` from the decrypted RTP packet `packet[0, end)` whose header is
 * `headerLength` bytes, reading the audio level from extension `audioLevelId`
 * (one- or two-byte form, RFC 8285). Returns false for a malformed packet.
 */
export function readRtp(
  packet: Buffer,
  headerLength: number,
  end: number,
  audioLevelId: number,
  view: RtpView,
): boolean {
  let payloadEnd = end;
  if (packet[0]! & 0x20) {
    // Padding: the last byte counts the padding bytes, itself included.
    const padding = packet[end - 1]!;
    if (padding === 0 || headerLength + padding > end) return false;
    payloadEnd -= padding;
  }
  view.marker = (packet[1]! & 0x80) !== 0;
  view.payloadType = packet[1]! & 0x7f;
  view.sequenceNumber = (packet[2]! << 8) | packet[3]!;
  view.timestamp = packet.readUInt32BE(4);
  view.ssrc = packet.readUInt32BE(8);
  view.payload = packet.subarray(headerLength, payloadEnd);
  view.audioLevel =
    packet[0]! & 0x10 && audioLevelId > 0 ? findAudioLevel(packet, headerLength, audioLevelId) : -1;
  return true;
}

function findAudioLevel(packet: Uint8Array, headerLength: number, id: number): number {
  const start = 12 + 4 * (packet[0]! & 0x0f);
  const profile = (packet[start]! << 8) | packet[start + 1]!;
  let i = start + 4;
  if (profile === 0xbede) {
    // One-byte form: 4-bit id, 4-bit length-1; id 0 is padding, id 15 ends the list.
    while (i < headerLength) {
      const byte = packet[i]!;
      if (byte === 0) {
        i++;
        continue;
      }
      const elementId = byte >> 4;
      if (elementId === 15) return -1;
      const length = (byte & 0x0f) + 1;
      if (elementId === id) return i + 1 < headerLength ? packet[i + 1]! : -1;
      i += 1 + length;
    }
  } else if ((profile & 0xfff0) === 0x1000) {
    // Two-byte form: 8-bit id, 8-bit length.
    while (i + 1 < headerLength) {
      const elementId = packet[i]!;
      if (elementId === 0) {
        i++;
        continue;
      }
      const length = packet[i + 1]!;
      if (elementId === id) return length > 0 && i + 2 < headerLength ? packet[i + 2]! : -1;
      i += 2 + length;
    }
  }
  return -1;
}

/** The header extensions the SFU writes on a forwarded packet, as negotiated with its receiver. */
export interface OutgoingExtensions {
  /** One-byte-form id of `sdes:mid`, 0 for none. */
  midId: number;
  /** The receiver's mid for the forwarded m-line, ASCII. */
  mid: Uint8Array;
  /** One-byte-form id of the audio level, 0 for none. */
  audioLevelId: number;
}

/** Largest header writeRtpHeader produces: 12 fixed bytes, 4 of extension header, mid (≤16+1), level (2), padding. */
export const MAX_WRITTEN_HEADER = 12 + 4 + 17 + 2 + 3;

/** Header length writeRtpHeader will produce for these extensions and audio level. */
export function writtenHeaderLength(extensions: OutgoingExtensions, audioLevel: number): number {
  let elements = 0;
  if (extensions.midId > 0) elements += 1 + extensions.mid.length;
  if (extensions.audioLevelId > 0 && audioLevel >= 0) elements += 2;
  return elements === 0 ? 12 : 16 + ((elements + 3) & ~3);
}

/**
 * Writes an RTP header (no CSRCs) with the one-byte extension form at the
 * start of `packet` and returns its length, which `writtenHeaderLength`
 * predicts. Extension ids must be 1–14 and the mid 1–16 bytes.
 */
export function writeRtpHeader(
  packet: Buffer,
  marker: boolean,
  payloadType: number,
  sequenceNumber: number,
  timestamp: number,
  ssrc: number,
  extensions: OutgoingExtensions,
  audioLevel: number,
): number {
  const length = writtenHeaderLength(extensions, audioLevel);
  packet[0] = length > 12 ? 0x90 : 0x80;
  packet[1] = (marker ? 0x80 : 0) | payloadType;
  packet[2] = sequenceNumber >>> 8;
  packet[3] = sequenceNumber & 0xff;
  packet[4] = timestamp >>> 24;
  packet[5] = (timestamp >>> 16) & 0xff;
  packet[6] = (timestamp >>> 8) & 0xff;
  packet[7] = timestamp & 0xff;
  packet[8] = ssrc >>> 24;
  packet[9] = (ssrc >>> 16) & 0xff;
  packet[10] = (ssrc >>> 8) & 0xff;
  packet[11] = ssrc & 0xff;
  if (length === 12) return 12;
  packet[12] = 0xbe;
  packet[13] = 0xde;
  packet[14] = 0;
  packet[15] = (length - 16) >> 2;
  let i = 16;
  if (extensions.midId > 0) {
    const mid = extensions.mid;
    packet[i++] = (extensions.midId << 4) | (mid.length - 1);
    for (let k = 0; k < mid.length; k++) packet[i++] = mid[k]!;
  }
  if (extensions.audioLevelId > 0 && audioLevel >= 0) {
    packet[i++] = extensions.audioLevelId << 4;
    packet[i++] = audioLevel;
  }
  while (i < length) packet[i++] = 0;
  return length;
}
