/**
 * Reduction for Shoup's 8-bit method: shifting Z right by 8 bits drops its
 * low byte b off the end; in GF(2^128) that adds R8[b] to Z's top word.
 */
const R8 = (() => {
  const table = new Int32Array(256);
  for (let b = 0; b < 256; b++) {
    let z0 = 0;
    let z3 = b;
    for (let i = 0; i < 8; i++) {
      const carry = z3 & 1;
      z3 >>>= 1;
      z0 = (z0 >>> 1) ^ (carry ? 0xe1000000 | 0 : 0);
    }
    table[b] = z0;
  }
  return table;
})();

/**
 * GHASH (the authentication half of AES-GCM, NIST SP 800-38D) for one fixed
 * hash key H, in JavaScript, by Shoup's 8-bit table method: a 4 KB table of
 * b·H for every byte value b, and Y·H as a Horner scheme over Y's 16 bytes.
 * Nothing is allocated per packet. (A table per byte position would save the
 * shifts but takes 64 KB per key; its lookups then miss the caches and TLB
 * under load and cost several times more.)
 */
export class Ghash {
  /** b·H for b = 0..255 (b as the first byte of a block), 4 big-endian words each. */
  readonly #table = new Int32Array(256 * 4);
  /** The running hash Y. */
  readonly #y = new Int32Array(4);
  readonly #block = new Uint8Array(16);

  constructor(h: Uint8Array) {
    if (h.length !== 16) throw new RangeError("GHASH key must be 16 bytes");
    const table = this.#table;
    // The single-bit bytes first: 0x80 is H itself, each lower bit one more multiplication by x.
    let v0 = readWord(h, 0);
    let v1 = readWord(h, 4);
    let v2 = readWord(h, 8);
    let v3 = readWord(h, 12);
    for (let bit = 0x80; bit >= 1; bit >>= 1) {
      table[bit * 4] = v0;
      table[bit * 4 + 1] = v1;
      table[bit * 4 + 2] = v2;
      table[bit * 4 + 3] = v3;
      // Multiply by x: shift right one bit, reduce by R = 0xe1 ‖ 0^120.
      const carry = v3 & 1;
      v3 = (v3 >>> 1) | (v2 << 31);
      v2 = (v2 >>> 1) | (v1 << 31);
      v1 = (v1 >>> 1) | (v0 << 31);
      v0 = (v0 >>> 1) ^ (carry ? 0xe1000000 | 0 : 0);
    }
    // Every other byte value is the XOR of its single-bit entries.
    for (let b = 3; b < 256; b++) {
      const low = b & -b;
      if (low === b) continue;
      for (let k = 0; k < 4; k++) table[b * 4 + k] = table[low * 4 + k]! ^ table[(b ^ low) * 4 + k]!;
    }
  }

  /** Starts a new message. */
  reset(): void {
    this.#y.fill(0);
  }

  /** Absorbs data[start, end), zero-padding its last partial block (as GCM pads AAD and ciphertext). */
  update(data: Uint8Array, start: number, end: number): void {
    let offset = start;
    for (; offset + 16 <= end; offset += 16) this.#absorb(data, offset);
    if (offset < end) {
      const block = this.#block;
      block.fill(0);
      for (let i = 0; offset + i < end; i++) block[i] = data[offset + i]!;
      this.#absorb(block, 0);
    }
  }

  /**
   * Absorbs the length block and writes the 16-byte tag, GHASH ⊕ mask, to
   * `out` at `outOffset`; `mask` is E(K, J0) at `maskOffset`.
   */
  finish(
    aadBytes: number,
    cipherBytes: number,
    mask: Uint8Array,
    maskOffset: number,
    out: Uint8Array,
    outOffset: number,
  ): void {
    const block = this.#block;
    block.fill(0);
    writeWord(block, 4, aadBytes * 8);
    writeWord(block, 12, cipherBytes * 8);
    this.#absorb(block, 0);
    const y = this.#y;
    for (let i = 0; i < 16; i++) {
      out[outOffset + i] = ((y[i >> 2]! >>> (24 - 8 * (i & 3))) & 0xff) ^ mask[maskOffset + i]!;
    }
  }

  /** Y = (Y ⊕ block)·H, Horner's rule over the bytes from last to first: Z = Z·x^8 ⊕ b·H. */
  #absorb(data: Uint8Array, offset: number): void {
    const y = this.#y;
    const t = this.#table;
    const r = R8;
    const x0 = y[0]! ^ readWord(data, offset);
    const x1 = y[1]! ^ readWord(data, offset + 4);
    const x2 = y[2]! ^ readWord(data, offset + 8);
    const x3 = y[3]! ^ readWord(data, offset + 12);
    let i = (x3 & 0xff) << 2;
    let z0 = t[i]!;
    let z1 = t[i + 1]!;
    let z2 = t[i + 2]!;
    let z3 = t[i + 3]!;
    // Fifteen more bytes, a word at a time: shift Z down a byte (reducing what falls off), add b·H.
    for (let w = 0; w < 4; w++) {
      const word = w === 0 ? x3 : w === 1 ? x2 : w === 2 ? x1 : x0;
      if (w > 0) {
        const rem = z3 & 0xff;
        z3 = (z3 >>> 8) | (z2 << 24);
        z2 = (z2 >>> 8) | (z1 << 24);
        z1 = (z1 >>> 8) | (z0 << 24);
        i = (word & 0xff) << 2;
        z0 = (z0 >>> 8) ^ r[rem]! ^ t[i]!;
        z1 ^= t[i + 1]!;
        z2 ^= t[i + 2]!;
        z3 ^= t[i + 3]!;
      }
      for (let shift = 8; shift < 32; shift += 8) {
        const rem = z3 & 0xff;
        z3 = (z3 >>> 8) | (z2 << 24);
        z2 = (z2 >>> 8) | (z1 << 24);
        z1 = (z1 >>> 8) | (z0 << 24);
        i = ((word >>> shift) & 0xff) << 2;
        z0 = (z0 >>> 8) ^ r[rem]! ^ t[i]!;
        z1 ^= t[i + 1]!;
        z2 ^= t[i + 2]!;
        z3 ^= t[i + 3]!;
      }
    }
    y[0] = z0;
    y[1] = z1;
    y[2] = z2;
    y[3] = z3;
  }
}

function readWord(buf: Uint8Array, offset: number): number {
  return (buf[offset]! << 24) | (buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!;
}

function writeWord(buf: Uint8Array, offset: number, word: number): void {
  buf[offset] = word >>> 24;
  buf[offset + 1] = (word >>> 16) & 0xff;
  buf[offset + 2] = (word >>> 8) & 0xff;
  buf[offset + 3] = word & 0xff;
}
