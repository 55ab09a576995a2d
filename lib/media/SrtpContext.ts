import { createCipheriv, type Cipher } from "node:crypto";
import { Ghash } from "./Ghash.js";
import { HmacSha1 } from "./HmacSha1.js";
import type { ReplayWindow } from "./ReplayWindow.js";
import type { RolloverCounter } from "./RolloverCounter.js";

/** DTLS-SRTP protection profile ids (RFC 5764, RFC 7714), as werift reports them. */
export const SRTP_AES128_CM_HMAC_SHA1_80 = 0x0001;
export const SRTP_AEAD_AES_128_GCM = 0x0007;

/** The keys DTLS-SRTP exports for one direction (RFC 5764 §4.2). */
export interface SrtpMasterKey {
  profile: number;
  masterKey: Uint8Array;
  masterSalt: Uint8Array;
}

/** What `unprotect` returns for a packet that failed authentication. */
export const SRTP_AUTH_FAILED = -1;
/** What `unprotect` returns for an authentic packet its replay window has seen before. */
export const SRTP_REPLAYED = -2;

/** Largest RTP packet the context protects in place (header, payload and tag). */
export const MAX_SRTP_PACKET = 1500;
const BLOCK = 16;
/** Counter blocks one packet can need: every payload block plus GCM's J0. */
const MAX_BLOCKS = Math.ceil(MAX_SRTP_PACKET / BLOCK) + 1;
/** Packets whose keystream a sending stream makes in one ECB call. */
const KEYSTREAM_BATCH = 16;
/** Payload blocks made per packet ahead of time: 128 bytes covers Opus at speech bitrates. */
const CACHED_BLOCKS = 8;
/** Bound on one batch: a batch of large packets covers fewer of them. */
const MAX_BATCH_BLOCKS = KEYSTREAM_BATCH * (CACHED_BLOCKS + 1);
/**
 * Counter blocks for one call, rebuilt every time; the ECB output is the
 * keystream. Shared by every context: calls run to completion on one thread
 * and the cipher copies its input, so one scratch buffer serves them all.
 */
const COUNTERS = Buffer.alloc(Math.max(MAX_BATCH_BLOCKS, MAX_BLOCKS) * BLOCK);

// RFC 3711 §4.3.1 key derivation labels.
const LABEL_RTP_ENCRYPTION = 0x00;
const LABEL_RTP_AUTH = 0x01;
const LABEL_RTP_SALT = 0x02;

/**
 * SRTP for RTP packets (RFC 3711 with AES_CM_128_HMAC_SHA1_80, RFC 7714 with
 * AEAD_AES_128_GCM) for one direction of one DTLS-SRTP session, working in
 * place on caller-owned buffers. werift's own SrtpSession creates a cipher and
 * an HMAC per packet and re-serialises the header; this derives the session
 * keys once, keeps one AES-ECB cipher to make counter-mode keystream for many
 * blocks in one native call, and authenticates in JavaScript (HmacSha1, Ghash).
 *
 * RTCP stays with werift: it is a few packets a second.
 */
export class SrtpContext {
  readonly profile: number;
  /** Bytes the tag adds to a packet. */
  readonly tagLength: number;
  readonly #ecb: Cipher;
  /** Session salt: 14 bytes for AES-CM, 12 for GCM (RFC 7714 §8.1). */
  readonly #salt: Uint8Array;
  readonly #hmac: HmacSha1 | undefined;
  readonly #ghash: Ghash | undefined;
  readonly #expectedTag = new Uint8Array(16);
  /** The keystream `#prepareKeystream` made last; a field, so the per-packet call returns a plain number. */
  #prepared: Buffer = Buffer.alloc(0);

  constructor(key: SrtpMasterKey) {
    this.profile = key.profile;
    if (key.masterKey.length !== 16) throw new RangeError("SRTP master key must be 16 bytes");
    const gcm = key.profile === SRTP_AEAD_AES_128_GCM;
    if (!gcm && key.profile !== SRTP_AES128_CM_HMAC_SHA1_80) {
      throw new RangeError(`unsupported SRTP profile 0x${key.profile.toString(16)}`);
    }
    const keys = deriveSessionKeys(key.masterKey, key.masterSalt, gcm ? 12 : 14);
    this.#salt = keys.salt;
    this.#ecb = ecbCipher(keys.key);
    if (gcm) {
      this.tagLength = 16;
      this.#ghash = new Ghash(this.#ecb.update(Buffer.alloc(BLOCK)));
    } else {
      this.tagLength = 10;
      this.#hmac = new HmacSha1(keys.authKey);
    }
  }

  /**
   * Writes `payload`, encrypted, into `packet` after its RTP header
   * (packet[0, headerLength), whose sequence number and SSRC are read from
   * it), then the tag; returns the protected length, headerLength +
   * payload.length + tagLength. Encrypting while copying saves a pass over
   * the payload. `rollover` is the sending stream's counter, advanced here.
   * With `cache`, keystream for the stream's next packets is made in one go
   * and kept there.
   */
  protect(
    packet: Uint8Array,
    headerLength: number,
    payload: Uint8Array,
    rollover: RolloverCounter,
    cache?: KeystreamCache,
  ): number {
    const end = headerLength + payload.length;
    if (end + this.tagLength > packet.length) throw new RangeError("no room for the payload and SRTP tag");
    const seq = (packet[2]! << 8) | packet[3]!;
    const roc = rollover.next(seq);
    const base = this.#prepareKeystream(packet, roc, seq, this.#blocksFor(payload.length), cache);
    const keystream = this.#prepared;
    // GCM's first keystream block is E(K, J0), the tag mask; the payload uses the rest.
    const ghash = this.#ghash;
    const ks = base + (ghash ? BLOCK : 0);
    const length = payload.length;
    for (let i = 0; i < length; i++) packet[headerLength + i] = payload[i]! ^ keystream[ks + i]!;
    if (ghash) {
      ghash.reset();
      ghash.update(packet, 0, headerLength);
      ghash.update(packet, headerLength, end);
      ghash.finish(headerLength, length, keystream, base, packet, end);
    } else {
      this.#hmac!.sign(packet, 0, end, roc, packet, end, this.tagLength);
    }
    return end + this.tagLength;
  }

  /**
   * Authenticates and decrypts packet[0, end) in place (`end` includes the
   * tag). Returns the end of the plaintext payload; SRTP_AUTH_FAILED when the
   * packet fails authentication, or SRTP_REPLAYED when `replay` has seen its
   * index (RFC 3711 §3.3.2); either way the packet is left encrypted and the
   * rollover and replay state as they were. With `cache`, keystream for the
   * stream's next packets is made ahead, as in `protect`.
   */
  unprotect(
    packet: Uint8Array,
    headerLength: number,
    end: number,
    rollover: RolloverCounter,
    cache?: KeystreamCache,
    replay?: ReplayWindow,
  ): number {
    const payloadEnd = end - this.tagLength;
    if (payloadEnd < headerLength) return SRTP_AUTH_FAILED;
    const seq = (packet[2]! << 8) | packet[3]!;
    const roc = rollover.estimate(seq);
    const base = this.#prepareKeystream(packet, roc, seq, this.#blocksFor(payloadEnd - headerLength), cache);
    const keystream = this.#prepared;
    const expected = this.#expectedTag;
    const ghash = this.#ghash;
    if (ghash) {
      ghash.reset();
      ghash.update(packet, 0, headerLength);
      ghash.update(packet, headerLength, payloadEnd);
      ghash.finish(headerLength, payloadEnd - headerLength, keystream, base, expected, 0);
    } else {
      this.#hmac!.sign(packet, 0, payloadEnd, roc, expected, 0, this.tagLength);
    }
    let diff = 0;
    for (let i = 0; i < this.tagLength; i++) diff |= expected[i]! ^ packet[payloadEnd + i]!;
    if (diff !== 0) return SRTP_AUTH_FAILED;
    // Checked once the packet is known authentic, so only a real replay is counted as one.
    if (replay !== undefined && !replay.accept(roc * 0x10000 + seq)) return SRTP_REPLAYED;
    const ks = base + (ghash ? BLOCK : 0);
    for (let i = headerLength, k = ks; i < payloadEnd; i++, k++) packet[i] = packet[i]! ^ keystream[k]!;
    rollover.accept(seq, roc);
    return payloadEnd;
  }

  /** Counter blocks a payload needs, plus GCM's J0 block. */
  #blocksFor(payloadBytes: number): number {
    const blocks = Math.ceil(payloadBytes / BLOCK) + (this.#ghash ? 1 : 0);
    if (blocks > MAX_BLOCKS) throw new RangeError("RTP packet too large for SRTP");
    return blocks;
  }

  /**
   * Makes this packet's keystream (from `cache` when the stream keeps one)
   * and leaves it in `#prepared`; returns where the packet's part starts.
   */
  #prepareKeystream(
    packet: Uint8Array,
    roc: number,
    seq: number,
    blocks: number,
    cache?: KeystreamCache,
  ): number {
    const ssrc = readWord(packet, 8);
    if (cache) {
      const base = this.#cachedKeystream(cache, ssrc, roc, seq, blocks);
      this.#prepared = cache.buffer!;
      return base;
    }
    this.#prepared = this.#keystream(ssrc, roc, seq, blocks);
    return 0;
  }

  /** Keystream for one packet, from one ECB call over its counter blocks. */
  #keystream(ssrc: number, roc: number, seq: number, blocks: number): Buffer {
    const counters = COUNTERS;
    this.#writeCounters(counters, 0, ssrc, roc, seq, blocks);
    return this.#ecb.update(counters.subarray(0, blocks * BLOCK));
  }

  /**
   * The offset in `cache.buffer` of this packet's keystream, refilling the
   * cache for the next KEYSTREAM_BATCH packets when it does not hold it. A
   * stream's packet indexes mostly go up one by one, so one ECB call serves
   * many packets; a packet from before the batch just starts a new one.
   */
  #cachedKeystream(cache: KeystreamCache, ssrc: number, roc: number, seq: number, blocks: number): number {
    const index = roc * 0x10000 + seq;
    const slot = index - cache.firstIndex;
    if (cache.buffer && cache.ssrc === ssrc && slot >= 0 && slot < cache.count && blocks <= cache.blocks) {
      return slot * cache.blocks * BLOCK;
    }
    const perPacket = Math.max(blocks, CACHED_BLOCKS + (this.#ghash ? 1 : 0));
    const count = Math.min(KEYSTREAM_BATCH, Math.floor(MAX_BATCH_BLOCKS / perPacket));
    const counters = COUNTERS;
    for (let p = 0; p < count; p++) {
      const i = index + p;
      this.#writeCounters(
        counters,
        p * perPacket * BLOCK,
        ssrc,
        Math.floor(i / 0x10000) >>> 0,
        i & 0xffff,
        perPacket,
      );
    }
    const keystream = this.#ecb.update(counters.subarray(0, count * perPacket * BLOCK));
    // Copied into a buffer the cache keeps: the cipher's output would live for a batch of
    // packets, long enough to be promoted, and its native memory would then wait for a
    // full GC. This way it dies in the young generation.
    if (!cache.buffer || cache.buffer.length < keystream.length) {
      cache.buffer = Buffer.allocUnsafeSlow(keystream.length);
    }
    keystream.copy(cache.buffer);
    cache.ssrc = ssrc;
    cache.firstIndex = index;
    cache.count = count;
    cache.blocks = perPacket;
    return 0;
  }

  /**
   * Writes `blocks` counter blocks for one packet at `offset`.
   * AES-CM (RFC 3711 §4.1.1): block i = (salt·2^16) ⊕ (SSRC·2^64) ⊕ (index·2^16) + i.
   * GCM (RFC 7714 §8.1): IV = (00 00 ‖ SSRC ‖ ROC ‖ SEQ) ⊕ salt, then a
   * 32-bit counter: block 0 is J0 = IV ‖ 1 (its keystream masks the tag), the
   * payload's blocks count on from 2.
   */
  #writeCounters(out: Buffer, offset: number, ssrc: number, roc: number, seq: number, blocks: number): void {
    const salt = this.#salt;
    const gcm = this.#ghash !== undefined;
    const o = offset;
    if (gcm) {
      out[o] = salt[0]!;
      out[o + 1] = salt[1]!;
      writeWordXor(out, o + 2, ssrc, salt, 2);
      writeWordXor(out, o + 6, roc, salt, 6);
      out[o + 10] = (seq >>> 8) ^ salt[10]!;
      out[o + 11] = (seq & 0xff) ^ salt[11]!;
      out[o + 12] = 0;
      out[o + 13] = 0;
    } else {
      for (let i = 0; i < 4; i++) out[o + i] = salt[i]!;
      writeWordXor(out, o + 4, ssrc, salt, 4);
      writeWordXor(out, o + 8, roc, salt, 8);
      out[o + 12] = (seq >>> 8) ^ salt[12]!;
      out[o + 13] = (seq & 0xff) ^ salt[13]!;
    }
    // The counter in the last two bytes (GCM's is 32 bits; a packet never carries it past 16).
    const first = gcm ? 1 : 0;
    out[o + 14] = 0;
    out[o + 15] = first;
    for (let b = 1; b < blocks; b++) {
      const d = o + b * BLOCK;
      for (let i = 0; i < 14; i++) out[d + i] = out[o + i]!;
      const n = first + b;
      out[d + 14] = n >>> 8;
      out[d + 15] = n & 0xff;
    }
  }
}

/** Keystream made ahead for the next packets of one sending stream; see SrtpContext.protect. */
export interface KeystreamCache {
  buffer: Buffer | undefined;
  ssrc: number;
  /** Packet index (ROC·2^16 + SEQ) of the first packet in the buffer. */
  firstIndex: number;
  count: number;
  /** Blocks per packet in the buffer. */
  blocks: number;
}

export function createKeystreamCache(): KeystreamCache {
  return { buffer: undefined, ssrc: 0, firstIndex: 0, count: 0, blocks: 0 };
}

function readWord(buf: Uint8Array, offset: number): number {
  return ((buf[offset]! << 24) | (buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!) >>> 0;
}

function writeWordXor(
  out: Uint8Array,
  offset: number,
  word: number,
  salt: Uint8Array,
  saltOffset: number,
): void {
  out[offset] = (word >>> 24) ^ salt[saltOffset]!;
  out[offset + 1] = ((word >>> 16) & 0xff) ^ salt[saltOffset + 1]!;
  out[offset + 2] = ((word >>> 8) & 0xff) ^ salt[saltOffset + 2]!;
  out[offset + 3] = (word & 0xff) ^ salt[saltOffset + 3]!;
}

/** RFC 3711 §4.3.1 (AES-CM PRF, key derivation rate 0): the RTP session keys. */
export function deriveSessionKeys(
  masterKey: Uint8Array,
  masterSalt: Uint8Array,
  saltLength: number,
): { key: Buffer; salt: Buffer; authKey: Buffer } {
  const ecb = ecbCipher(masterKey);
  // A 12-byte (GCM) master salt is zero-padded on the right to 112 bits, as werift and libsrtp do.
  const salt = Buffer.alloc(14);
  Buffer.from(masterSalt).copy(salt, 0, 0, Math.min(14, masterSalt.length));
  const prf = (label: number, length: number): Buffer => {
    const blocks = Math.ceil(length / BLOCK);
    const input = Buffer.alloc(blocks * BLOCK);
    for (let b = 0; b < blocks; b++) {
      const o = b * BLOCK;
      salt.copy(input, o);
      input[o + 7] = input[o + 7]! ^ label;
      input.writeUInt16BE(b, o + 14);
    }
    return ecb.update(input).subarray(0, length);
  };
  return {
    key: prf(LABEL_RTP_ENCRYPTION, 16),
    authKey: prf(LABEL_RTP_AUTH, 20),
    salt: prf(LABEL_RTP_SALT, 14).subarray(0, saltLength),
  };
}

function ecbCipher(key: Uint8Array): Cipher {
  const cipher = createCipheriv("aes-128-ecb", key, null);
  // Whole blocks only, so every update returns its full output at once.
  cipher.setAutoPadding(false);
  return cipher;
}
