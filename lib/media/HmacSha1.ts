import { createHash } from "node:crypto";

const BLOCK = 64;

/**
 * HMAC-SHA1 for one fixed key, computed in JavaScript over caller-owned
 * buffers: the states after the ipad and opad blocks are precomputed once, so
 * a tag costs two short SHA-1 runs and allocates nothing. Node's createHmac
 * would cost a native object, its key schedule and a result Buffer per packet.
 */
export class HmacSha1 {
  readonly #inner = new Int32Array(5);
  readonly #outer = new Int32Array(5);
  readonly #state = new Int32Array(5);
  readonly #w = new Int32Array(80);
  /** The message tail plus SHA-1 padding: at most two blocks. */
  readonly #tail = new Uint8Array(2 * BLOCK);

  constructor(key: Uint8Array) {
    const k = key.length > BLOCK ? createHash("sha1").update(key).digest() : key;
    const pad = new Uint8Array(BLOCK);
    for (const [target, byte] of [
      [this.#inner, 0x36],
      [this.#outer, 0x5c],
    ] as const) {
      for (let i = 0; i < BLOCK; i++) pad[i] = (k[i] ?? 0) ^ byte;
      target.set(INITIAL);
      this.#compress(target, pad, 0);
    }
  }

  /**
   * Writes the first `tagLength` bytes of HMAC(key, data[start, end) ‖ suffix)
   * to `out` at `outOffset`, where `suffix` is a big-endian 32-bit word (the
   * SRTP rollover counter).
   */
  sign(
    data: Uint8Array,
    start: number,
    end: number,
    suffix: number,
    out: Uint8Array,
    outOffset: number,
    tagLength: number,
  ): void {
    const state = this.#state;
    state.set(this.#inner);
    let offset = start;
    for (; offset + BLOCK <= end; offset += BLOCK) this.#compress(state, data, offset);

    // Tail: the rest of the data, the suffix word, 0x80, zeros, the bit length.
    const tail = this.#tail;
    const rest = end - offset;
    for (let i = 0; i < rest; i++) tail[i] = data[offset + i]!;
    tail[rest] = suffix >>> 24;
    tail[rest + 1] = (suffix >>> 16) & 0xff;
    tail[rest + 2] = (suffix >>> 8) & 0xff;
    tail[rest + 3] = suffix & 0xff;
    tail[rest + 4] = 0x80;
    const tailBlocks = rest + 4 + 1 + 8 > BLOCK ? 2 : 1;
    const tailEnd = tailBlocks * BLOCK;
    tail.fill(0, rest + 5, tailEnd - 4);
    writeBitLength(tail, tailEnd, BLOCK + (end - start) + 4);
    this.#compress(state, tail, 0);
    if (tailBlocks === 2) this.#compress(state, tail, BLOCK);

    // Outer hash over the 20-byte inner digest: one block.
    for (let i = 0; i < 5; i++) writeWord(tail, i * 4, state[i]!);
    tail[20] = 0x80;
    tail.fill(0, 21, BLOCK - 4);
    writeBitLength(tail, BLOCK, BLOCK + 20);
    state.set(this.#outer);
    this.#compress(state, tail, 0);

    for (let i = 0; i < tagLength; i++) out[outOffset + i] = (state[i >> 2]! >>> (24 - 8 * (i & 3))) & 0xff;
  }

  /** Same as `sign`, written to a new buffer; for tests and cold paths. */
  digest(data: Uint8Array, suffix: number, tagLength = 20): Buffer {
    const out = Buffer.alloc(tagLength);
    this.sign(data, 0, data.length, suffix, out, 0, tagLength);
    return out;
  }

  #compress(state: Int32Array, block: Uint8Array, offset: number): void {
    const w = this.#w;
    for (let t = 0; t < 16; t++) {
      const o = offset + 4 * t;
      w[t] = (block[o]! << 24) | (block[o + 1]! << 16) | (block[o + 2]! << 8) | block[o + 3]!;
    }
    for (let t = 16; t < 80; t++) {
      const x = w[t - 3]! ^ w[t - 8]! ^ w[t - 14]! ^ w[t - 16]!;
      w[t] = (x << 1) | (x >>> 31);
    }
    let a = state[0]!;
    let b = state[1]!;
    let c = state[2]!;
    let d = state[3]!;
    let e = state[4]!;
    let t = 0;
    for (; t < 20; t++) {
      const tmp = (((a << 5) | (a >>> 27)) + ((b & c) | (~b & d)) + e + 0x5a827999 + w[t]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = tmp;
    }
    for (; t < 40; t++) {
      const tmp = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0x6ed9eba1 + w[t]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = tmp;
    }
    for (; t < 60; t++) {
      const tmp = (((a << 5) | (a >>> 27)) + ((b & c) | (b & d) | (c & d)) + e + 0x8f1bbcdc + w[t]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = tmp;
    }
    for (; t < 80; t++) {
      const tmp = (((a << 5) | (a >>> 27)) + (b ^ c ^ d) + e + 0xca62c1d6 + w[t]!) | 0;
      e = d;
      d = c;
      c = (b << 30) | (b >>> 2);
      b = a;
      a = tmp;
    }
    state[0] = (state[0]! + a) | 0;
    state[1] = (state[1]! + b) | 0;
    state[2] = (state[2]! + c) | 0;
    state[3] = (state[3]! + d) | 0;
    state[4] = (state[4]! + e) | 0;
  }
}

const INITIAL = Int32Array.of(0x67452301, 0xefcdab89 | 0, 0x98badcfe | 0, 0x10325476, 0xc3d2e1f0 | 0);

function writeWord(buf: Uint8Array, offset: number, word: number): void {
  buf[offset] = word >>> 24;
  buf[offset + 1] = (word >>> 16) & 0xff;
  buf[offset + 2] = (word >>> 8) & 0xff;
  buf[offset + 3] = word & 0xff;
}

/** SHA-1's trailing 64-bit message length in bits; messages here are far below 2^29 bytes. */
function writeBitLength(buf: Uint8Array, end: number, byteLength: number): void {
  writeWord(buf, end - 8, 0);
  writeWord(buf, end - 4, byteLength * 8);
}
