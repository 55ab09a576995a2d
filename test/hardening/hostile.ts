import type { Prng } from "./prng.js";
import { attr, BINDING_REQUEST, encodeStun, type StunAttribute } from "./stun.js";

export const HOSTILE_KINDS = ["random", "rtp", "rtcp", "dtls", "stun"] as const;
export type HostileKind = (typeof HOSTILE_KINDS)[number];

/** What an attacker may have learnt about the target: SSRCs and the ufrag from the SDP, never the password. */
export interface HostileTarget {
  ssrcs: number[];
  ufrag: string;
}

/** One hostile datagram of `kind`, shaped closely enough to reach that protocol's parser. */
export function hostileDatagram(rng: Prng, kind: HostileKind, target: HostileTarget): Buffer {
  switch (kind) {
    case "random":
      return rng.bytes(rng.chance(0.05) ? rng.int(0, 3) : rng.int(4, rng.chance(0.02) ? 9000 : 1400));
    case "rtp":
      return rtpLike(rng, target);
    case "rtcp":
      return rtcpLike(rng, target);
    case "dtls":
      return dtlsLike(rng);
    case "stun":
      return stunLike(rng, target);
  }
}

function ssrc(rng: Prng, target: HostileTarget): number {
  return target.ssrcs.length > 0 && rng.chance(0.5) ? rng.pick(target.ssrcs) : rng.int(0, 0xffffffff);
}

function rtpLike(rng: Prng, target: HostileTarget): Buffer {
  const csrcs = rng.chance(0.8) ? 0 : rng.int(0, 15);
  const extension = rng.chance(0.3);
  const header = Buffer.alloc(12 + csrcs * 4);
  header[0] = 0x80 | (rng.chance(0.1) ? 0x20 : 0) | (extension ? 0x10 : 0) | csrcs;
  header[1] = (rng.chance(0.2) ? 0x80 : 0) | (rng.chance(0.6) ? 111 : rng.int(0, 127));
  header.writeUInt16BE(rng.int(0, 0xffff), 2);
  header.writeUInt32BE(rng.int(0, 0xffffffff), 4);
  header.writeUInt32BE(ssrc(rng, target), 8);
  const parts: Buffer[] = [header];
  if (extension) {
    const ext = Buffer.alloc(4);
    ext.writeUInt16BE(rng.pick([0xbede, 0x1000, rng.int(0, 0xffff)]), 0);
    // Often a length that runs past the packet.
    ext.writeUInt16BE(rng.chance(0.5) ? rng.int(0, 0xffff) : rng.int(0, 4), 2);
    parts.push(ext, rng.bytes(rng.int(0, 16)));
  }
  parts.push(rng.bytes(rng.int(0, 1200)));
  return Buffer.concat(parts);
}

function rtcpLike(rng: Prng, target: HostileTarget): Buffer {
  const packets: Buffer[] = [];
  for (let n = rng.int(1, 4); n > 0; n--) {
    const words = rng.int(1, 40);
    const packet = Buffer.alloc(4 + words * 4);
    packet[0] = 0x80 | rng.int(0, 31);
    packet[1] = rng.chance(0.8) ? rng.int(200, 206) : rng.int(192, 223);
    // The length field is a lie a third of the time.
    packet.writeUInt16BE(rng.chance(0.66) ? words : rng.int(0, 0xffff), 2);
    packet.writeUInt32BE(ssrc(rng, target), 4);
    rng.bytes(packet.length - 8).copy(packet, 8);
    packets.push(packet);
  }
  // SRTCP trailer: E flag + index, then a 10-byte auth tag, all forged.
  if (rng.chance(0.7)) packets.push(rng.bytes(14));
  return Buffer.concat(packets);
}

function dtlsLike(rng: Prng): Buffer {
  const contentType = rng.chance(0.9) ? rng.pick([20, 21, 22, 23]) : rng.int(19, 63);
  let body: Buffer;
  if (contentType === 21) {
    // Alerts: close_notify, fatal handshake_failure, and junk.
    body = rng.chance(0.7)
      ? Buffer.from([rng.pick([1, 2]), rng.pick([0, 10, 40, 42, 80])])
      : rng.bytes(rng.int(0, 8));
  } else if (contentType === 20) {
    body = Buffer.from([1]);
  } else if (contentType === 22) {
    const fragment = rng.bytes(rng.int(0, 300));
    const head = Buffer.alloc(12);
    head[0] = rng.pick([1, 2, 3, 11, 12, 14, 15, 16, 20, rng.int(0, 255)]);
    head.writeUIntBE(rng.chance(0.7) ? fragment.length : rng.int(0, 0xffffff), 1, 3);
    head.writeUInt16BE(rng.int(0, 8), 4);
    head.writeUIntBE(0, 6, 3);
    head.writeUIntBE(rng.chance(0.7) ? fragment.length : rng.int(0, 0xffffff), 9, 3);
    body = Buffer.concat([head, fragment]);
  } else {
    body = rng.bytes(rng.int(0, 600));
  }
  const record = Buffer.alloc(13);
  record[0] = contentType;
  record.writeUInt16BE(rng.pick([0xfefd, 0xfeff, 0x0303, rng.int(0, 0xffff)]), 1);
  record.writeUInt16BE(rng.pick([0, 1, rng.int(0, 0xffff)]), 3);
  record.writeUIntBE(rng.int(0, 0xffffffffffff), 5, 6);
  record.writeUInt16BE(rng.chance(0.8) ? body.length : rng.int(0, 0xffff), 11);
  return Buffer.concat([record, body]);
}

/** STUN messages that do not carry the target's password: they must never be answered. */
function stunLike(rng: Prng, target: HostileTarget): Buffer {
  const ufrag = rng.chance(0.6) ? target.ufrag : rng.string(rng.int(0, 8));
  const username = `${ufrag}:${rng.string(4)}`;
  const attributes: StunAttribute[] = [];
  if (rng.chance(0.9))
    attributes.push(attr.username(rng.chance(0.9) ? username : rng.string(rng.int(0, 300))));
  if (rng.chance(0.5))
    attributes.push(attr.controlled(BigInt(rng.int(0, 0xffffffff)) << BigInt(rng.int(0, 32))));
  if (rng.chance(0.5))
    attributes.push(attr.controlling(BigInt(rng.int(0, 0xffffffff)) << BigInt(rng.int(0, 32))));
  if (rng.chance(0.5)) attributes.push(attr.useCandidate());
  if (rng.chance(0.7)) attributes.push(attr.priority(rng.int(0, 0xffffffff)));
  for (let n = rng.chance(0.3) ? rng.int(1, 5) : 0; n > 0; n--) {
    attributes.push({ type: rng.int(0, 0xffff), value: rng.bytes(rng.int(0, 64)) });
  }
  const type = rng.chance(0.7)
    ? BINDING_REQUEST
    : rng.pick([0x0003, 0x0004, 0x0008, 0x0009, 0x0011, 0x0101, 0x0111, rng.int(0, 0x3fff)]);
  const message = encodeStun({
    type,
    attributes,
    // Signed with a password that is not the target's, or not signed at all.
    ...(rng.chance(0.6) && { password: rng.string(22) }),
    fingerprint: rng.chance(0.7),
  });
  const cut = rng.next();
  if (cut < 0.05) return message.subarray(0, rng.int(0, message.length));
  if (cut < 0.1) message.writeUInt16BE(rng.int(0, 0xffff), 2);
  return message;
}
