import { expect } from "chai";
import { createCipheriv, createHmac, randomBytes } from "node:crypto";
import {
  ProtectionProfileAeadAes128Gcm,
  ProtectionProfileAes128CmHmacSha1_80,
  RtpHeader,
  RtpPacket,
  SrtpSession,
} from "werift";
import { Ghash } from "../../lib/media/Ghash.js";
import { HmacSha1 } from "../../lib/media/HmacSha1.js";
import { RolloverCounter } from "../../lib/media/RolloverCounter.js";
import { createKeystreamCache, deriveSessionKeys, SrtpContext } from "../../lib/media/SrtpContext.js";

const PROFILES = [
  { name: "AES_CM_128_HMAC_SHA1_80", id: ProtectionProfileAes128CmHmacSha1_80, saltLength: 14 },
  { name: "AEAD_AES_128_GCM", id: ProtectionProfileAeadAes128Gcm, saltLength: 12 },
];

/**
 * Our contexts and werift's session on the two ends of a call: `ours` protects
 * what `werift` decrypts, `oursInbound` unprotects what `werift` encrypts, and
 * `mirror` unprotects what `ours` protects.
 */
function pair(profile: number, saltLength: number) {
  const ourKey = randomBytes(16);
  const ourSalt = randomBytes(saltLength);
  const theirKey = randomBytes(16);
  const theirSalt = randomBytes(saltLength);
  return {
    ours: new SrtpContext({ profile, masterKey: ourKey, masterSalt: ourSalt }),
    oursInbound: new SrtpContext({ profile, masterKey: theirKey, masterSalt: theirSalt }),
    mirror: new SrtpContext({ profile, masterKey: ourKey, masterSalt: ourSalt }),
    werift: new SrtpSession({
      profile,
      keys: {
        localMasterKey: theirKey,
        localMasterSalt: theirSalt,
        remoteMasterKey: ourKey,
        remoteMasterSalt: ourSalt,
      },
    }),
  };
}

function header(seq: number, options: Partial<ConstructorParameters<typeof RtpHeader>[0]> = {}): Buffer {
  const h = new RtpHeader({
    payloadType: 111,
    sequenceNumber: seq,
    timestamp: (seq * 960) >>> 0,
    ssrc: 0x1234abcd,
    ...options,
  });
  return h.serialize(h.serializeSize);
}

/** Protects `payload` behind `head` with our context; returns the datagram. */
function protect(
  context: SrtpContext,
  head: Buffer,
  payload: Buffer,
  rollover: RolloverCounter,
  cache?: ReturnType<typeof createKeystreamCache>,
): Buffer {
  const packet = Buffer.alloc(head.length + payload.length + context.tagLength);
  head.copy(packet);
  const length = context.protect(packet, head.length, payload, rollover, cache);
  expect(length).to.equal(packet.length);
  return packet;
}

describe("SRTP fast path against werift's SRTP", () => {
  it("derives the RFC 3711 B.3 session keys", () => {
    const keys = deriveSessionKeys(
      Buffer.from("E1F97A0D3E018BE0D64FA32C06DE4139", "hex"),
      Buffer.from("0EC675AD498AFEEBB6960B3AABE6", "hex"),
      14,
    );
    expect(keys.key.toString("hex")).to.equal("c61e7a93744f39ee10734afe3ff7a087");
    expect(keys.salt.toString("hex")).to.equal("30cbbc08863d8c85d49db34a9ae1");
    expect(keys.authKey.toString("hex")).to.equal("cebe321f6ff7716b6fd4ab49af256a156d38baa4");
  });

  for (const { name, id, saltLength } of PROFILES) {
    describe(name, () => {
      it("encrypts what werift decrypts, byte for byte, across sequence wraps", () => {
        const { ours, werift } = pair(id, saltLength);
        const rollover = new RolloverCounter();
        const cache = createKeystreamCache();
        // 130,000 packets from seq 65,000 wrap twice; payload sizes cycle through 1..300 bytes.
        for (let i = 0; i < 130_000; i++) {
          const seq = (65_000 + i) & 0xffff;
          const payload = randomBytes(1 + (i % 300));
          const packet = protect(
            ours,
            header(seq, { marker: i === 0 }),
            payload,
            rollover,
            i % 5 ? cache : undefined,
          );
          const decrypted = RtpPacket.deSerialize(werift.decrypt(packet));
          if (!decrypted.payload.equals(payload) || decrypted.header.sequenceNumber !== seq) {
            expect.fail(`packet ${i} (seq ${seq}) did not survive`);
          }
        }
        expect(rollover.roc).to.equal(2);
      });

      it("keeps header extensions and CSRCs authenticated as written", () => {
        const { ours, werift } = pair(id, saltLength);
        const head = header(7, {
          csrc: [1, 2],
          csrcLength: 2,
          extension: true,
          extensionProfile: 0xbede,
          extensions: [
            { id: 4, payload: Buffer.from("12") },
            { id: 1, payload: Buffer.of(0x9a) },
          ],
        });
        const payload = randomBytes(80);
        const decrypted = RtpPacket.deSerialize(
          werift.decrypt(protect(ours, head, payload, new RolloverCounter())),
        );
        expect(decrypted.payload.equals(payload)).to.equal(true);
        expect(decrypted.header.csrc).to.deep.equal([1, 2]);
        expect(decrypted.header.extensions.map((e) => [e.id, e.payload.toString("hex")])).to.deep.equal([
          [4, Buffer.from("12").toString("hex")],
          [1, "9a"],
        ]);
      });

      it("decrypts what werift encrypts, across a sequence wrap, and rejects tampering", () => {
        const { oursInbound, werift } = pair(id, saltLength);
        const rollover = new RolloverCounter();
        const cache = createKeystreamCache();
        for (let i = 0; i < 60_000; i++) {
          const seq = (65_500 + i) & 0xffff;
          const payload = randomBytes(1 + (i % 200));
          const rtp = new RtpHeader({ payloadType: 111, sequenceNumber: seq, timestamp: i, ssrc: 0xfeed });
          const packet = werift.encrypt(payload, rtp);
          const headerLength = rtp.serializeSize;
          if (i % 1000 === 0) {
            // A flipped bit anywhere fails authentication and leaves the stream state alone.
            const tampered = Buffer.from(packet);
            tampered[headerLength + (i % payload.length)]! ^= 1;
            expect(oursInbound.unprotect(tampered, headerLength, tampered.length, rollover, cache)).to.equal(
              -1,
            );
          }
          const end = oursInbound.unprotect(
            packet,
            headerLength,
            packet.length,
            rollover,
            i % 7 ? cache : undefined,
          );
          if (end !== headerLength + payload.length || !packet.subarray(headerLength, end).equals(payload)) {
            expect.fail(`packet ${i} (seq ${seq}) did not decrypt`);
          }
        }
        expect(rollover.roc).to.equal(1);
      });

      it("decrypts a late packet from before the wrap with the previous rollover counter", () => {
        const { ours, mirror } = pair(id, saltLength);
        const send = new RolloverCounter();
        const receive = new RolloverCounter();
        const cache = createKeystreamCache();
        const packets = [65_534, 65_535, 0, 1].map((seq) => ({
          seq,
          packet: protect(ours, header(seq), Buffer.from(`payload ${seq}`), send),
        }));
        // Arrival order 65534, 0, 65535 (late), 1.
        for (const index of [0, 2, 1, 3]) {
          const { seq, packet } = packets[index]!;
          const end = mirror.unprotect(packet, 12, packet.length, receive, cache);
          expect(packet.subarray(12, end).toString(), `seq ${seq}`).to.equal(`payload ${seq}`);
        }
        expect(receive.roc).to.equal(1);
      });

      it("handles a sender whose packets go out of order (keystream made ahead)", () => {
        const { ours, werift } = pair(id, saltLength);
        const rollover = new RolloverCounter();
        const cache = createKeystreamCache();
        for (const seq of [100, 101, 103, 102, 104, 90, 105, 200, 201]) {
          const payload = randomBytes(60);
          const decrypted = RtpPacket.deSerialize(
            werift.decrypt(protect(ours, header(seq), payload, rollover, cache)),
          );
          expect(decrypted.payload.equals(payload), `seq ${seq}`).to.equal(true);
        }
      });
    });
  }
});

describe("SRTP building blocks", () => {
  it("HmacSha1 matches node:crypto for every tail length and long keys", () => {
    for (const keyLength of [20, 64, 100]) {
      const key = randomBytes(keyLength);
      const hmac = new HmacSha1(key);
      for (let length = 0; length < 200; length++) {
        const data = randomBytes(length);
        const suffix = (length * 2654435761) >>> 0;
        const expected = createHmac("sha1", key)
          .update(data)
          .update(Buffer.from([suffix >>> 24, (suffix >>> 16) & 0xff, (suffix >>> 8) & 0xff, suffix & 0xff]))
          .digest();
        expect(hmac.digest(data, suffix).equals(expected), `key ${keyLength}, length ${length}`).to.equal(
          true,
        );
      }
    }
  });

  it("Ghash gives the same tag as node:crypto's AES-GCM", () => {
    for (let trial = 0; trial < 50; trial++) {
      const key = randomBytes(16);
      const iv = randomBytes(12);
      const aad = randomBytes(trial % 40);
      const plaintext = randomBytes(trial * 7);
      const cipher = createCipheriv("aes-128-gcm", key, iv);
      cipher.setAAD(aad);
      const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
      const ecb = createCipheriv("aes-128-ecb", key, null).setAutoPadding(false);
      const h = ecb.update(Buffer.alloc(16));
      const mask = ecb.update(Buffer.concat([iv, Buffer.from([0, 0, 0, 1])]));
      const ghash = new Ghash(h);
      ghash.update(aad, 0, aad.length);
      ghash.update(ciphertext, 0, ciphertext.length);
      const tag = Buffer.alloc(16);
      ghash.finish(aad.length, ciphertext.length, mask, 0, tag, 0);
      expect(tag.toString("hex"), `trial ${trial}`).to.equal(cipher.getAuthTag().toString("hex"));
    }
  });

  it("RolloverCounter follows RFC 3711's index estimate", () => {
    const counter = new RolloverCounter();
    expect(counter.next(65_530)).to.equal(0);
    expect(counter.next(65_535)).to.equal(0);
    expect(counter.next(3)).to.equal(1);
    // A late packet from the previous cycle belongs to ROC 0 and does not move the counter back.
    expect(counter.estimate(65_532)).to.equal(0);
    counter.accept(65_532, 0);
    expect(counter.roc).to.equal(1);
    expect(counter.next(4)).to.equal(1);
    const resumed = new RolloverCounter({ roc: 7, highestSeq: 65_000 });
    expect(resumed.estimate(10)).to.equal(8);
  });
});
