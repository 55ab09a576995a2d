import { createHmac, randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";

/** STUN attribute types used by ICE connectivity checks (RFC 8445, RFC 5389). */
export const ATTR = {
  USERNAME: 0x0006,
  MESSAGE_INTEGRITY: 0x0008,
  PRIORITY: 0x0024,
  USE_CANDIDATE: 0x0025,
  FINGERPRINT: 0x8028,
  ICE_CONTROLLED: 0x8029,
  ICE_CONTROLLING: 0x802a,
  /** Chrome's GOOG-NETWORK-INFO: unknown to werift, sent before MESSAGE-INTEGRITY. */
  GOOG_NETWORK_INFO: 0xc057,
} as const;

const COOKIE = 0x2112a442;
export const BINDING_REQUEST = 0x0001;
export const BINDING_INDICATION = 0x0011;
export const BINDING_RESPONSE = 0x0101;

export interface StunAttribute {
  type: number;
  value: Buffer;
}

/**
 * Serialises a STUN message byte by byte, in the attribute order given, so a
 * test controls exactly what goes on the wire. `password` adds
 * MESSAGE-INTEGRITY over everything before it; `fingerprint` adds FINGERPRINT.
 */
export function encodeStun(options: {
  type?: number;
  transactionId?: Buffer;
  attributes: StunAttribute[];
  password?: string;
  fingerprint?: boolean;
}): Buffer {
  const header = Buffer.alloc(20);
  header.writeUInt16BE(options.type ?? BINDING_REQUEST, 0);
  header.writeUInt32BE(COOKIE, 4);
  (options.transactionId ?? randomBytes(12)).copy(header, 8);
  let body = Buffer.concat(options.attributes.map(encodeAttribute));
  const withLength = (extra: number) => {
    const out = Buffer.concat([header, body]);
    out.writeUInt16BE(body.length + extra, 2);
    return out;
  };
  if (options.password !== undefined) {
    const mac = createHmac("sha1", options.password).update(withLength(24)).digest();
    body = Buffer.concat([body, encodeAttribute({ type: ATTR.MESSAGE_INTEGRITY, value: mac })]);
  }
  if (options.fingerprint) {
    const value = Buffer.alloc(4);
    value.writeUInt32BE((crc32(withLength(8)) ^ 0x5354554e) >>> 0);
    body = Buffer.concat([body, encodeAttribute({ type: ATTR.FINGERPRINT, value })]);
  }
  return withLength(0);
}

function encodeAttribute({ type, value }: StunAttribute): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt16BE(type, 0);
  head.writeUInt16BE(value.length, 2);
  return Buffer.concat([head, value, Buffer.alloc((4 - (value.length % 4)) % 4)]);
}

export const attr = {
  username: (text: string): StunAttribute => ({ type: ATTR.USERNAME, value: Buffer.from(text, "utf8") }),
  priority: (value: number): StunAttribute => {
    const buf = Buffer.alloc(4);
    buf.writeUInt32BE(value >>> 0);
    return { type: ATTR.PRIORITY, value: buf };
  },
  controlled: (tieBreaker: bigint): StunAttribute => u64(ATTR.ICE_CONTROLLED, tieBreaker),
  controlling: (tieBreaker: bigint): StunAttribute => u64(ATTR.ICE_CONTROLLING, tieBreaker),
  useCandidate: (): StunAttribute => ({ type: ATTR.USE_CANDIDATE, value: Buffer.alloc(0) }),
  networkInfo: (): StunAttribute => ({ type: ATTR.GOOG_NETWORK_INFO, value: Buffer.from([0, 1, 0, 0x0a]) }),
};

function u64(type: number, value: bigint): StunAttribute {
  const buf = Buffer.alloc(8);
  buf.writeBigUInt64BE(value);
  return { type, value: buf };
}

/** An ICE connectivity check as a browser sends it, signed with `password` when given. */
export function bindingRequest(options: {
  username: string;
  password?: string;
  controlled?: bigint;
  controlling?: bigint;
}): Buffer {
  const attributes = [attr.username(options.username), attr.networkInfo()];
  if (options.controlling !== undefined) attributes.push(attr.controlling(options.controlling));
  if (options.controlled !== undefined) attributes.push(attr.controlled(options.controlled));
  attributes.push(attr.priority(0x6e7f1eff));
  return encodeStun({
    attributes,
    ...(options.password !== undefined && { password: options.password }),
    fingerprint: true,
  });
}

/** The SFU's ICE credentials, read from the SDP it sent. */
export function iceCredentials(sdp: string): { ufrag: string; pwd: string } {
  const ufrag = /^a=ice-ufrag:(\S+)/m.exec(sdp)?.[1];
  const pwd = /^a=ice-pwd:(\S+)/m.exec(sdp)?.[1];
  if (!ufrag || !pwd) throw new Error("no ICE credentials in the SDP");
  return { ufrag, pwd };
}
