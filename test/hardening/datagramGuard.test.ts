import { createSocket, type Socket } from "node:dgram";
import { expect } from "chai";
import {
  Connection,
  Event,
  StunOverTurnProtocol,
  StunProtocol,
  type Address,
  type DtlsSocket,
  type TurnProtocol,
} from "werift";
import {
  checkStunRequest,
  isSafeDtls,
  isSafeRtp,
  MAX_KNOWN_SOURCES,
  rememberSource,
} from "../../lib/sfu/DatagramGuard.js";
import { loopbackPeer } from "../helpers/loopbackPeer.js";
import { useSfu } from "../helpers/fixture.js";
import { sleep, waitFor } from "../helpers/wait.js";
import {
  attr,
  BINDING_INDICATION,
  BINDING_REQUEST,
  BINDING_RESPONSE,
  bindingRequest,
  encodeStun,
  iceCredentials,
} from "./stun.js";

const UFRAG = "sfuU";
const PWD = "abcdefghijklmnopqrstuv";
const passwords: Record<string, string> = { [UFRAG]: PWD, oldU: "0123456789012345678901" };
const lookup = (ufrag: string) => (Object.hasOwn(passwords, ufrag) ? passwords[ufrag] : undefined);

/** An RTP header with a one-byte-extension block of `elements` one-byte elements, `words` claimed. */
function rtpWithExtension(options: { elements: number; words?: number; profile?: number }): Buffer {
  const block: number[] = [];
  for (let i = 0; i < options.elements; i++) block.push(0x10 | (i % 14), 0xaa);
  while (block.length % 4 !== 0) block.push(0);
  const header = Buffer.from([0x90, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0]);
  header.writeUInt16BE(options.profile ?? 0xbede, 12);
  header.writeUInt16BE(options.words ?? block.length / 4, 14);
  return Buffer.concat([header, Buffer.from(block), Buffer.alloc(40)]);
}

/** One DTLS 1.2 record: 13-byte header, then `body`; `length` overrides the length field. */
function dtlsRecord(type: number, epoch: number, body: number[] | Buffer, length?: number): Buffer {
  const header = Buffer.alloc(13);
  header[0] = type;
  header.writeUInt16BE(0xfefd, 1);
  header.writeUInt16BE(epoch, 3);
  header.writeUIntBE(7, 5, 6);
  header.writeUInt16BE(length ?? body.length, 11);
  return Buffer.concat([header, Buffer.from(body)]);
}

/** A finished handshake whose cipher authenticates only what `authentic` accepts, counting its calls. */
function connectedSession(authentic: (fragment: Buffer) => boolean) {
  const session = {
    connected: true,
    decrypts: 0,
    cipher: {
      decryptPacket(record: { fragment: Buffer }) {
        session.decrypts++;
        if (!authentic(record.fragment)) throw new Error("unable to authenticate data");
        return Buffer.from([1, 0]);
      },
    },
  };
  return session;
}

describe("datagram checks on the SFU's ICE sockets", function () {
  describe("isSafeRtp", () => {
    it("passes RTP as clients send it, RTCP, DTLS and STUN", () => {
      expect(isSafeRtp(rtpWithExtension({ elements: 2 }))).to.equal(true);
      expect(isSafeRtp(rtpWithExtension({ elements: 14 }))).to.equal(true);
      expect(isSafeRtp(rtpWithExtension({ elements: 0, words: 3, profile: 0x1234 }))).to.equal(true);
      expect(isSafeRtp(Buffer.from([0x80, 200, 0, 6, 1, 2, 3, 4]))).to.equal(true);
      expect(isSafeRtp(Buffer.from([22, 0xfe, 0xfd]))).to.equal(true);
      expect(isSafeRtp(bindingRequest({ username: "a:b" }))).to.equal(true);
      expect(isSafeRtp(Buffer.alloc(0))).to.equal(true);
    });

    it("drops RTP whose header runs past the datagram or holds more extension elements than ids exist", () => {
      // The datagram the hostile-UDP test found: 116 bytes that held werift's event loop for 90 s.
      const found = Buffer.from("906fb4a2fd8bf9ab394136b7bedef9087dfd501ed863796f", "hex");
      expect(isSafeRtp(Buffer.concat([found, Buffer.alloc(92, 0x5a)]))).to.equal(false);
      expect(isSafeRtp(rtpWithExtension({ elements: 2, words: 0xffff }))).to.equal(false);
      expect(isSafeRtp(rtpWithExtension({ elements: 2, words: 0xffff, profile: 0x1000 }))).to.equal(false);
      expect(isSafeRtp(rtpWithExtension({ elements: 200 }))).to.equal(false);
      expect(isSafeRtp(Buffer.from([0x8f, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2]))).to.equal(false);
      expect(isSafeRtp(Buffer.from([0x90, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0xbe]))).to.equal(false);
      // Second byte 210 is an RTCP type by RFC 5761, but werift parses it as RTP.
      const rtcpTypeRtp = rtpWithExtension({ elements: 2, words: 0xffff });
      rtcpTypeRtp[1] = 210;
      expect(isSafeRtp(rtcpTypeRtp)).to.equal(false);
    });
  });

  describe("isSafeDtls", () => {
    const alert = (epoch: number) => dtlsRecord(21, epoch, [1, 0]);
    const clientHello = dtlsRecord(22, 0, Buffer.alloc(60, 1));

    it("passes well-framed records of werift's four types during the handshake, several to a datagram", () => {
      const handshaking = { ...connectedSession(() => true), connected: false } as unknown as DtlsSocket;
      for (const dtls of [undefined, handshaking]) {
        expect(isSafeDtls(clientHello, dtls)).to.equal(true);
        expect(
          isSafeDtls(Buffer.concat([dtlsRecord(20, 0, [1]), dtlsRecord(22, 1, Buffer.alloc(40))]), dtls),
        ).to.equal(true);
        expect(isSafeDtls(alert(0), dtls), "an alert before the keys exist").to.equal(true);
      }
      expect(isSafeDtls(Buffer.from([0x80, 111, 0, 1]), undefined), "not DTLS").to.equal(true);
    });

    it("drops a second HelloVerifyRequest once the client sent its cookie, on which werift's client would fail", () => {
      const helloVerifyRequest = dtlsRecord(22, 0, [3, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 3, 0xfe, 0xff, 0]);
      const atFlight = (flight: number) => ({ connected: false, dtls: { flight } }) as unknown as DtlsSocket;
      expect(
        isSafeDtls(helloVerifyRequest, atFlight(1)),
        "the first, answering the first ClientHello",
      ).to.equal(true);
      expect(isSafeDtls(helloVerifyRequest, atFlight(3)), "a duplicate after the cookie went out").to.equal(
        false,
      );
      expect(isSafeDtls(helloVerifyRequest, atFlight(5)), "a duplicate later in the handshake").to.equal(
        false,
      );
      expect(isSafeDtls(clientHello, atFlight(3)), "other handshake messages").to.equal(true);
      const sealed = dtlsRecord(22, 1, [3, ...Buffer.alloc(40)]);
      expect(isSafeDtls(sealed, atFlight(5)), "an encrypted Finished whose first byte reads 3").to.equal(
        true,
      );
    });

    it("drops records that overrun the datagram, a truncated header and unknown record types", () => {
      expect(isSafeDtls(dtlsRecord(22, 0, Buffer.alloc(20), 21), undefined)).to.equal(false);
      expect(isSafeDtls(Buffer.concat([clientHello, Buffer.from([22, 0xfe, 0xfd])]), undefined)).to.equal(
        false,
      );
      expect(isSafeDtls(dtlsRecord(24, 1, [0]), undefined)).to.equal(false);
      expect(isSafeDtls(dtlsRecord(63, 1, [0]), undefined)).to.equal(false);
    });

    it("after the handshake drops epoch 0 and alerts that do not authenticate, and decrypts nothing else", () => {
      const session = connectedSession((fragment) => fragment.equals(Buffer.from("sealed")));
      const dtls = session as unknown as DtlsSocket;
      expect(isSafeDtls(clientHello, dtls), "a ClientHello restarting the session").to.equal(false);
      expect(isSafeDtls(alert(0), dtls), "a plaintext close_notify").to.equal(false);
      expect(isSafeDtls(dtlsRecord(20, 0, [1]), dtls)).to.equal(false);
      expect(isSafeDtls(alert(1), dtls), "a close_notify in epoch 1 that is not sealed").to.equal(false);
      expect(isSafeDtls(Buffer.concat([dtlsRecord(23, 1, [9, 9]), alert(1)]), dtls)).to.equal(false);
      expect(isSafeDtls(dtlsRecord(21, 1, Buffer.from("sealed")), dtls), "a sealed alert").to.equal(true);
      const decrypts = session.decrypts;
      expect(isSafeDtls(dtlsRecord(23, 1, Buffer.alloc(80)), dtls)).to.equal(true);
      expect(isSafeDtls(dtlsRecord(22, 1, Buffer.alloc(40)), dtls)).to.equal(true);
      expect(session.decrypts, "application data and handshake records are left to werift").to.equal(
        decrypts,
      );
    });

    it("tells a sealed alert from a forged one with the keys of a real werift session", async function () {
      this.timeout(20_000);
      const [a, b] = [loopbackPeer(), loopbackPeer()];
      try {
        a.addTransceiver("audio", { direction: "sendrecv" });
        await a.setLocalDescription(await a.createOffer());
        await waitFor(() => a.iceGatheringState === "complete", 5_000, "gathering");
        await b.setRemoteDescription(a.localDescription!);
        await b.setLocalDescription(await b.createAnswer());
        await waitFor(() => b.iceGatheringState === "complete", 5_000, "gathering");
        await a.setRemoteDescription(b.localDescription!);
        await waitFor(
          () => a.connectionState === "connected" && b.connectionState === "connected",
          10_000,
          "DTLS",
        );
        const [sender, receiver] = [a.dtlsTransports[0]!.dtls!, b.dtlsTransports[0]!.dtls!];
        expect(receiver.connected).to.equal(true);
        const header = {
          contentType: 21,
          protocolVersion: { major: 0xfe, minor: 0xfd },
          epoch: 1,
          sequenceNumber: 99,
        };
        const sealed = sender.cipher.encryptPacket({
          recordLayerHeader: { ...header, contentLen: 2 },
          fragment: Buffer.from([1, 0]),
        } as Parameters<DtlsSocket["cipher"]["encryptPacket"]>[0]);
        const record = dtlsRecord(21, 1, sealed.fragment);
        record.writeUIntBE(99, 5, 6);
        expect(isSafeDtls(record, receiver), "sealed by the other end").to.equal(true);
        const tampered = Buffer.from(record);
        tampered[tampered.length - 1]! ^= 1;
        expect(isSafeDtls(tampered, receiver), "one bit flipped").to.equal(false);
        expect(isSafeDtls(record, sender), "replayed at its own sender").to.equal(false);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });
  });

  describe("checkStunRequest", () => {
    it("accepts a check signed with our password, even with an unknown attribute before MESSAGE-INTEGRITY", () => {
      const data = bindingRequest({ username: `${UFRAG}:cli1`, password: PWD });
      expect(checkStunRequest(data, lookup)).to.equal("authentic-request");
    });

    it("accepts a check for an earlier ICE generation's ufrag signed with that generation's password", () => {
      const data = bindingRequest({ username: "oldU:cli1", password: passwords.oldU! });
      expect(checkStunRequest(data, lookup)).to.equal("authentic-request");
    });

    it("refuses a wrong ufrag, a wrong password, no MESSAGE-INTEGRITY and no USERNAME", () => {
      const cases = {
        "wrong ufrag": bindingRequest({ username: "nope:cli1", password: PWD }),
        "wrong password": bindingRequest({ username: `${UFRAG}:cli1`, password: "x".repeat(22) }),
        "old ufrag, current password": bindingRequest({ username: "oldU:cli1", password: PWD }),
        "no integrity": bindingRequest({ username: `${UFRAG}:cli1` }),
        "no username": encodeStun({ attributes: [attr.priority(1)], password: PWD, fingerprint: true }),
        "ufrag without colon": bindingRequest({ username: UFRAG, password: PWD }),
        "prototype key": bindingRequest({ username: "constructor:x", password: PWD }),
        "__proto__ key": bindingRequest({ username: "__proto__:x", password: PWD }),
        "role conflict bait": bindingRequest({ username: `${UFRAG}:cli1`, controlled: 0n }),
      };
      for (const [name, data] of Object.entries(cases)) {
        expect(checkStunRequest(data, lookup), name).to.equal("forged-request");
      }
    });

    it("tells STUN requests from responses, indications and media", () => {
      const rtp = Buffer.from([0x80, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 1, 2, 3, 4]);
      const dtls = Buffer.from([22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
      const response = encodeStun({ type: BINDING_RESPONSE, attributes: [] });
      const indication = encodeStun({ type: BINDING_INDICATION, attributes: [] });
      for (const data of [rtp, dtls, response, indication, Buffer.alloc(0)]) {
        expect(checkStunRequest(data, lookup)).to.equal("not-a-request");
      }
    });
  });

  describe("rememberSource", () => {
    it("keeps the address that passed a check most recently when the list is full", () => {
      const sources: Address[] = [];
      const live: Address = ["203.0.113.7", 50_000];
      rememberSource(sources, live);
      for (let port = 1; port < MAX_KNOWN_SOURCES; port++) rememberSource(sources, ["198.51.100.1", port]);
      rememberSource(sources, ["203.0.113.7", 50_000]); // the live pair's consent check
      rememberSource(sources, ["198.51.100.1", 100]); // one address too many

      expect(sources).to.have.length(MAX_KNOWN_SOURCES);
      expect(sources).to.deep.include(live);
      expect(sources, "the oldest other address goes").not.to.deep.include(["198.51.100.1", 1]);
      expect(sources.filter(([host, port]) => host === live[0] && port === live[1])).to.have.length(1);
    });
  });

  it("finds the werift internals it wraps (fails on a werift upgrade that renames them)", () => {
    const connection = new Connection(false, {}) as unknown as Record<string, unknown>;
    expect(connection.ensureProtocol).to.be.a("function");
    expect(connection.protocols).to.be.an("array");
    expect(connection.userHistory).to.be.an("object");
    expect((StunProtocol.prototype as unknown as Record<string, unknown>).datagramReceived).to.be.a(
      "function",
    );
    // A relayed socket: what the TURN server relays reaches werift's ICE through handleStunMessage.
    const relayed = new StunOverTurnProtocol({ onData: new Event() } as unknown as TurnProtocol);
    expect((relayed as unknown as Record<string, unknown>).handleStunMessage).to.be.a("function");
  });

  describe("on a live peer", function () {
    this.timeout(30_000);
    const live = useSfu();
    let socket: Socket;
    const replies: Buffer[] = [];

    beforeEach(async () => {
      replies.length = 0;
      socket = createSocket("udp4");
      socket.on("message", (data) => replies.push(data));
      await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
    });

    afterEach(() => {
      socket.close();
    });

    it("answers only checks that carry the SFU's ICE credentials, and keeps the peer connected", async () => {
      const alice = await live.join("stun", "alice");
      const bob = await live.join("stun", "bob");
      alice.startSending();
      await bob.waitForPackets(alice.peerId, 10);
      const [host, port] = bob.pc.iceTransports[0]!.connection.nominated!.remoteAddr;
      const sfu = iceCredentials(bob.signaling.events("answer")[0]!.sdp);
      const client = iceCredentials(bob.pc.localDescription!.sdp);
      const username = `${sfu.ufrag}:${client.ufrag}`;
      const send = (data: Buffer) => socket.send(data, port, host);

      // Without the guard werift answers the first four, replies 487 to the fifth and switches role on the sixth.
      const forged = [
        bindingRequest({ username }),
        bindingRequest({ username: `x${sfu.ufrag}:${client.ufrag}`, password: sfu.pwd }),
        bindingRequest({ username, password: client.pwd }),
        encodeStun({ type: 0x0003, attributes: [attr.username(username)] }),
        bindingRequest({ username, controlled: 0n }),
        bindingRequest({ username, controlled: 0xffffffffffffffffn }),
      ];
      for (const data of forged) send(data);
      await sleep(500);
      expect(replies, "replies to forged checks").to.have.length(0);

      send(bindingRequest({ username, password: sfu.pwd, controlling: 1n }));
      await sleep(500);
      const types = replies.map((r) => r.readUInt16BE(0));
      expect(types, "a success response").to.include(BINDING_RESPONSE);
      // The rest are werift's triggered checks towards the new (peer-reflexive) address.
      expect(types.filter((t) => t !== BINDING_RESPONSE && t !== BINDING_REQUEST)).to.deep.equal([]);

      const before = bob.packetsFrom(alice.peerId);
      await bob.waitForPackets(alice.peerId, 25);
      expect(bob.packetsFrom(alice.peerId)).to.be.greaterThan(before);
      expect(bob.pc.connectionState).to.equal("connected");
    });

    it("ignores DTLS and RTP from an address that never passed an ICE check", async () => {
      const alice = await live.join("dtls", "alice");
      const bob = await live.join("dtls", "bob");
      alice.startSending();
      bob.startSending();
      await bob.waitForPackets(alice.peerId, 10);
      const [host, port] = bob.pc.iceTransports[0]!.connection.nominated!.remoteAddr;
      const record = (type: number, body: number[]) =>
        Buffer.from([type, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 9, 0, body.length, ...body]);
      // Without the guard werift closes the DTLS session on the alert or the unknown record
      // type, restarts it on the ClientHello, and stalls for ~90 s parsing the RTP header.
      const forged = [
        record(21, [1, 0]),
        record(21, [2, 40]),
        record(99, [0]),
        record(22, [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
        Buffer.concat([Buffer.from("906fb4a2fd8bf9ab394136b7bedef908", "hex"), Buffer.alloc(100, 0x5a)]),
      ];
      for (const data of forged) socket.send(data, port, host);
      await sleep(300);
      await bob.waitForPackets(alice.peerId, 25, 3_000);
      await alice.waitForPackets(bob.peerId, 25, 3_000);
      expect(live.server.service.peerSnapshots().map((p) => p.connectionState)).to.deep.equal([
        "connected",
        "connected",
      ]);
      expect(replies).to.have.length(0);
    });
  });
});
