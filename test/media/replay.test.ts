import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { Event, RtpHeader, SrtpSession, type RTCDtlsTransport } from "werift";
import { createSilentLogger } from "../../lib/logger.js";
import { MediaTransport } from "../../lib/media/MediaTransport.js";
import { REPLAY_WINDOW, ReplayWindow } from "../../lib/media/ReplayWindow.js";
import { RolloverCounter } from "../../lib/media/RolloverCounter.js";
import type { RtpReceiveStream } from "../../lib/media/RtpReceiveStream.js";
import {
  createKeystreamCache,
  SRTP_AEAD_AES_128_GCM,
  SRTP_AES128_CM_HMAC_SHA1_80,
  SRTP_AUTH_FAILED,
  SRTP_REPLAYED,
  SrtpContext,
} from "../../lib/media/SrtpContext.js";
import { fakeReceiver } from "../helpers/fakeReceiver.js";

const SSRC = 0x1234abcd;

function keys(profile: number) {
  return {
    profile,
    masterKey: randomBytes(16),
    masterSalt: randomBytes(profile === SRTP_AEAD_AES_128_GCM ? 12 : 14),
  };
}

/** A sender: protects packets numbered by hand, its rollover counter following them. */
function sender(context: SrtpContext) {
  const rollover = new RolloverCounter();
  return (seq: number, ssrc = SSRC): Buffer => {
    const header = new RtpHeader({
      payloadType: 111,
      sequenceNumber: seq & 0xffff,
      timestamp: seq * 960,
      ssrc,
    });
    const head = header.serialize(header.serializeSize);
    const payload = Buffer.from(`payload ${seq}`);
    const packet = Buffer.alloc(head.length + payload.length + context.tagLength);
    head.copy(packet);
    context.protect(packet, head.length, payload, rollover);
    return packet;
  };
}

describe("SRTP replay protection (RFC 3711 §3.3.2)", () => {
  describe("ReplayWindow", () => {
    it("accepts each index once, inside the window in any order, and nothing older", () => {
      const window = new ReplayWindow();
      for (let i = 0; i < 200; i++) expect(window.accept(i), `index ${i}`).to.equal(true);
      expect(window.accept(199), "an immediate duplicate").to.equal(false);
      expect(window.accept(150), "a duplicate inside the window").to.equal(false);
      expect(window.accept(5), "older than the window").to.equal(false);
      // Out of order inside the window: each accepted once.
      for (const i of [205, 203, 201, 204, 200, 202]) expect(window.accept(i), `index ${i}`).to.equal(true);
      for (const i of [205, 203, 201, 204, 200, 202]) expect(window.accept(i), `again ${i}`).to.equal(false);
      // A jump past the whole window forgets everything before it.
      expect(window.accept(1000)).to.equal(true);
      expect(window.accept(1000 - REPLAY_WINDOW)).to.equal(false);
      expect(window.accept(1000 - REPLAY_WINDOW + 1), "never seen, just inside").to.equal(true);
      expect(window.accept(999)).to.equal(true);
      expect(window.accept(999)).to.equal(false);
      expect(window.highest).to.equal(1000);
    });

    it("forgets the marks the window moves past as it slides", () => {
      const window = new ReplayWindow();
      // Every slot of the ring marked, then every other index: a mark the window moved past and
      // did not clear would show up as a false replay of an odd index.
      for (let i = 0; i < REPLAY_WINDOW; i++) expect(window.accept(i), `index ${i}`).to.equal(true);
      for (let i = REPLAY_WINDOW; i < 10 * REPLAY_WINDOW; i += 2) {
        expect(window.accept(i), `index ${i}`).to.equal(true);
      }
      for (let i = 9 * REPLAY_WINDOW + 1; i < 10 * REPLAY_WINDOW; i += 2) {
        expect(window.accept(i), `late ${i}`).to.equal(true);
      }
    });
  });

  for (const profile of [SRTP_AES128_CM_HMAC_SHA1_80, SRTP_AEAD_AES_128_GCM]) {
    describe(`SrtpContext.unprotect, profile ${profile}`, () => {
      it("drops a duplicate and an old replay, accepts reordering once, across the rollover", () => {
        const key = keys(profile);
        const send = sender(new SrtpContext(key));
        const receiver = new SrtpContext(key);
        const rollover = new RolloverCounter();
        const replay = new ReplayWindow();
        const cache = createKeystreamCache();
        const packets = new Map<number, Buffer>();
        for (let seq = 65_400; seq < 65_536 + 100; seq++) packets.set(seq, send(seq));
        // The original is kept encrypted: every delivery gets a copy, as the network would.
        const deliver = (seq: number): number => {
          const packet = Buffer.from(packets.get(seq)!);
          return receiver.unprotect(packet, 12, packet.length, rollover, cache, replay);
        };
        const arrivalOrder = [...packets.keys()];
        // Reordered around the wrap: 65535 after 0, 65533 after 1.
        const at = (seq: number): number => arrivalOrder.indexOf(seq);
        arrivalOrder.splice(at(65_535), 1);
        arrivalOrder.splice(at(65_536) + 1, 0, 65_535);
        arrivalOrder.splice(at(65_533), 1);
        arrivalOrder.splice(at(65_537) + 1, 0, 65_533);
        for (const seq of arrivalOrder) expect(deliver(seq), `seq ${seq}`).to.be.above(0);
        expect(rollover.roc).to.equal(1);

        expect(deliver(65_536 + 99), "an immediate duplicate").to.equal(SRTP_REPLAYED);
        expect(deliver(65_535), "a duplicate from before the wrap, inside the window").to.equal(
          SRTP_REPLAYED,
        );
        expect(deliver(65_400), "an old replay").to.equal(SRTP_REPLAYED);
        const tampered = Buffer.from(packets.get(65_536 + 99)!);
        tampered[14]! ^= 1;
        expect(receiver.unprotect(tampered, 12, tampered.length, rollover, cache, replay)).to.equal(
          SRTP_AUTH_FAILED,
        );
        expect(rollover.roc).to.equal(1);
        // The stream goes on.
        const next = send(65_536 + 100);
        expect(receiver.unprotect(next, 12, next.length, rollover, cache, replay)).to.be.above(0);
      });
    });
  }

  describe("on the transport's receive path", () => {
    /** The edge of werift MediaTransport touches: its DTLS transport's SRTP session and ICE data event. */
    function fakeDtls(profile: number) {
      const local = keys(profile);
      const remote = keys(profile);
      const session = (remoteKey: typeof remote) =>
        new SrtpSession({
          profile,
          keys: {
            localMasterKey: local.masterKey,
            localMasterSalt: local.masterSalt,
            remoteMasterKey: remoteKey.masterKey,
            remoteMasterSalt: remoteKey.masterSalt,
          },
        });
      const toWerift: Buffer[] = [];
      const onData = new Event<[Buffer]>();
      onData.subscribe((data) => void toWerift.push(data));
      const dtls = {
        srtp: session(remote),
        state: "new",
        iceTransport: { connection: { onData } },
      };
      return {
        transport: new MediaTransport({ logger: createSilentLogger() }),
        dtls: dtls as unknown as RTCDtlsTransport,
        remote,
        toWerift,
        receive: (datagram: Buffer) => onData.execute(datagram),
        /** The DTLS handshake ran again: new keys. */
        rekey: () => {
          const next = keys(profile);
          dtls.srtp = session(next);
          return next;
        },
      };
    }

    function openStream(
      edge: { transport: MediaTransport; dtls: RTCDtlsTransport },
      heard: number[],
    ): RtpReceiveStream {
      const stream = edge.transport.openReceiveStream({
        dtls: edge.dtls,
        ssrc: SSRC,
        payloadType: 111,
        clockRate: 48_000,
        receiver: fakeReceiver(),
        onPacket: (packet) => heard.push(packet.readUInt16BE(2)),
      });
      if (!stream) throw new Error("the transport refused the stream");
      return stream;
    }

    it("drops and counts replays, also once a stream for the SSRC is opened again", () => {
      const edge = fakeDtls(SRTP_AES128_CM_HMAC_SHA1_80);
      const send = sender(new SrtpContext(edge.remote));
      const heard: number[] = [];
      const first = openStream(edge, heard);
      const sent = [10, 11, 12, 13].map((seq) => send(seq));
      for (const packet of sent) edge.receive(Buffer.from(packet));
      edge.receive(Buffer.from(sent[3]!));
      edge.receive(Buffer.from(sent[1]!));
      expect(heard).to.deep.equal([10, 11, 12, 13]);
      expect(first.replaysDropped).to.equal(2);
      expect(first.authFailures).to.equal(0);
      first.close();

      const second = openStream(edge, heard);
      edge.receive(Buffer.from(sent[2]!));
      edge.receive(send(14));
      expect(heard).to.deep.equal([10, 11, 12, 13, 14]);
      expect(second.replaysDropped).to.equal(1);
      expect(edge.toWerift, "nothing of the stream's went on to werift").to.have.length(0);
      second.close();
    });

    it("continues the rollover counter in a stream opened again for the same SSRC", () => {
      const edge = fakeDtls(SRTP_AEAD_AES_128_GCM);
      const send = sender(new SrtpContext(edge.remote));
      const heard: number[] = [];
      const first = openStream(edge, heard);
      for (let seq = 65_500; seq < 65_536 + 10; seq++) edge.receive(send(seq));
      expect(first.srtp!.rollover.roc).to.equal(1);
      first.close();

      // Muted, then unmuted: the sender's numbering goes on past the wrap.
      heard.length = 0;
      const second = openStream(edge, heard);
      for (let seq = 65_536 + 10; seq < 65_536 + 20; seq++) edge.receive(send(seq));
      expect(second.authFailures).to.equal(0);
      expect(heard).to.deep.equal([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);
      second.close();
    });

    it("starts every SSRC afresh under new keys", () => {
      const edge = fakeDtls(SRTP_AES128_CM_HMAC_SHA1_80);
      const heard: number[] = [];
      const stream = openStream(edge, heard);
      const send = sender(new SrtpContext(edge.remote));
      for (let seq = 65_500; seq < 65_536 + 10; seq++) edge.receive(send(seq));
      expect(stream.srtp!.rollover.roc).to.equal(1);

      // After a new DTLS handshake the sender starts a new index space at ROC 0.
      const sendAgain = sender(new SrtpContext(edge.rekey()));
      heard.length = 0;
      for (let seq = 100; seq < 110; seq++) edge.receive(sendAgain(seq));
      expect(stream.authFailures).to.equal(0);
      expect(stream.replaysDropped).to.equal(0);
      expect(heard).to.have.length(10);
      expect(stream.srtp!.rollover.roc).to.equal(0);
      stream.close();
    });
  });
});
