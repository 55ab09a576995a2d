/**
 * The bench's RTP payload: Opus-sized (80–120 bytes) and self-describing, so a
 * receiver can check it arrived intact and measure one-way latency without any
 * side channel.
 *
 * Layout (little-endian):
 *   0  u32  magic
 *   4  u32  sender index (unique per peer in a run)
 *   8  u32  sender's packet counter
 *  12  f64  send time, ms on the shared clock (see `nowMs`)
 *  20  u16  payload length
 *  22  ..   filler
 *  len-4 u32 FNV-1a of bytes [0, len-4)
 */

export const PAYLOAD_MAGIC = 0x53465542;
export const PAYLOAD_MIN_BYTES = 80;
export const PAYLOAD_MAX_BYTES = 120;
const HEADER_BYTES = 22;

/**
 * Milliseconds on a clock every process on this machine shares: Node derives
 * `timeOrigin` from the wall clock and `now()` from the monotonic clock, so the
 * sum agrees across processes to within microseconds.
 */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** 32-bit FNV-1a of buf[start, end); `Math.imul` keeps it in int32 arithmetic with no allocation. */
export function fnv1a(buf: Uint8Array, start: number, end: number): number {
  let hash = 0x811c9dc5;
  for (let i = start; i < end; i++) {
    hash = Math.imul(hash ^ buf[i]!, 0x01000193);
  }
  return hash >>> 0;
}

/** Payload length for a given packet counter: cycles through 80..120 bytes. */
export function payloadLength(counter: number): number {
  return PAYLOAD_MIN_BYTES + (counter % (PAYLOAD_MAX_BYTES - PAYLOAD_MIN_BYTES + 1));
}

/**
 * Fills `buf` (at least `length` bytes long) with one packet's payload. Writes
 * in place so the sender's hot path allocates nothing.
 */
export function writePayload(
  buf: Buffer,
  length: number,
  senderIndex: number,
  counter: number,
  sendTime: number,
): void {
  buf.writeUInt32LE(PAYLOAD_MAGIC, 0);
  buf.writeUInt32LE(senderIndex >>> 0, 4);
  buf.writeUInt32LE(counter >>> 0, 8);
  buf.writeDoubleLE(sendTime, 12);
  buf.writeUInt16LE(length, 20);
  buf.writeUInt32LE(fnv1a(buf, 0, length - 4), length - 4);
}

/** Fills the bytes between header and checksum once; they never change after. */
export function fillPattern(buf: Buffer): void {
  for (let i = HEADER_BYTES; i < buf.length; i++) buf[i] = (i * 37 + 11) & 0xff;
}

/**
 * True when buf[start, end) has the bench layout, its own length and a valid
 * checksum. Offsets rather than a view: a received payload is checked where it
 * lies in the decrypted datagram, with no Buffer made for it.
 */
export function isIntact(buf: Buffer, start: number, end: number): boolean {
  const length = end - start;
  if (length < PAYLOAD_MIN_BYTES || length > PAYLOAD_MAX_BYTES) return false;
  if (buf.readUInt32LE(start) !== PAYLOAD_MAGIC) return false;
  if (buf.readUInt16LE(start + 20) !== length) return false;
  return buf.readUInt32LE(end - 4) === fnv1a(buf, start, end - 4);
}

/** The fields of a payload starting at `start` (checked with `isIntact` first). */
export function readSenderIndex(buf: Buffer, start: number): number {
  return buf.readUInt32LE(start + 4);
}

export function readCounter(buf: Buffer, start: number): number {
  return buf.readUInt32LE(start + 8);
}

export function readSendTime(buf: Buffer, start: number): number {
  return buf.readDoubleLE(start + 12);
}
