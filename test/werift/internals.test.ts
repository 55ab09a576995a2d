import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { X509Certificate } from "node:crypto";
import { expect } from "chai";
import {
  Event,
  MediaStreamTrack,
  RTCDtlsTransport,
  StunOverTurnProtocol,
  type TurnProtocol,
  RtpHeader,
  RtpPacket,
  StunProtocol,
  type IceConnection,
  type RTCPeerConnection,
  type RTCRtpTransceiver,
  type SrtpSession,
} from "werift";
import { createSilentLogger } from "../../lib/logger.js";
import { MuxTransport } from "../../lib/sfu/MuxTransport.js";
import { UdpMux } from "../../lib/sfu/UdpMux.js";
import {
  disableDefaultStun,
  localIcePassword,
  localIceUfrags,
  ICE_CHECK_RETRANSMISSIONS,
  ICE_CHECK_RTO_MS,
  patientIceChecks,
  pinControlledRole,
  pinControllingRole,
  restartIceChecks,
} from "../../lib/werift/ice.js";
import { endDtlsHandshakes } from "../../lib/werift/dtls.js";
import {
  dtlsTransportOf,
  filterIceSocket,
  replaceUdpTransport,
  watchIceSockets,
  type IceSocket,
} from "../../lib/werift/iceSockets.js";
import { interceptIceData, srtpStreamState } from "../../lib/werift/srtp.js";
import { releaseTransceiver } from "../../lib/werift/transceiver.js";
import { WERIFT_VERSION } from "../../lib/werift/version.js";
import { loopbackPeer } from "../helpers/loopbackPeer.js";
import { waitFor } from "../helpers/wait.js";

type Fields = Record<string, unknown>;

/** The message a test fails with when werift no longer has `member` as lib/werift expects it. */
const moved = (member: string) => `werift moved ${member} (read from werift ${WERIFT_VERSION})`;

function fields(owner: object): Fields {
  return owner as Fields;
}

/**
 * Every non-public werift member lib/werift relies on, checked on real werift
 * objects: two loopback peer connections, the second answering like the SFU,
 * with RTP flowing from the first. A failure names the member that moved.
 */
describe(`werift internals lib/werift relies on (werift ${WERIFT_VERSION})`, function () {
  this.timeout(20_000);
  let client: RTCPeerConnection;
  let sfu: RTCPeerConnection;
  let sending: NodeJS.Timeout | undefined;
  let stunServerBeforeGathering: unknown;
  const sockets: IceSocket[] = [];
  const watchMissing: Array<string | undefined> = [];
  let filtered = 0;
  /** The transaction options of the SFU side's connectivity checks, as werift used them. */
  const checkOptions: Array<{ retransmissions?: number; responseTimeout?: number }> = [];
  let received = 0;
  let seq = 0;
  /** The SSRC werift's sender on the client writes every packet with. */
  let ssrc = 0;

  before(async () => {
    client = loopbackPeer();
    sfu = loopbackPeer();
    for (const pc of [client, sfu]) {
      pc.iceGatheringStateChange.subscribe(() => disableDefaultStun(pc));
    }
    // As the SFU does: every socket its ICE connection opens is watched from its first datagram.
    sfu.iceGatheringStateChange.subscribe(() => {
      patientIceChecks(sfu);
      for (const transport of sfu.iceTransports) {
        const connection = fields(transport.connection);
        const patient = connection.checkRequestOptions as
          ((pair: unknown) => (typeof checkOptions)[number]) | undefined;
        if (!patient || connection.recording) continue;
        connection.recording = true;
        connection.checkRequestOptions = (pair: unknown) => {
          const options = patient(pair);
          checkOptions.push(options);
          return options;
        };
      }
      for (const transport of sfu.iceTransports) {
        if (watched.has(transport.connection)) continue;
        watched.add(transport.connection);
        watchMissing.push(
          watchIceSockets(transport.connection, (socket) => {
            sockets.push(socket);
            filterIceSocket(socket, () => {
              filtered++;
              return true;
            });
          }),
        );
      }
    });
    const watched = new WeakSet<IceConnection>();
    const track = new MediaStreamTrack({ kind: "audio" });
    ssrc = client.addTransceiver(track, { direction: "sendonly" }).sender.ssrc;
    sfu.onTrack.subscribe((remote) => remote.onReceiveRtp.subscribe(() => received++));
    await client.setLocalDescription(await client.createOffer());
    await sfu.setRemoteDescription(client.localDescription!);
    stunServerBeforeGathering = sfu.iceTransports[0]?.connection.stunServer;
    await sfu.setLocalDescription(await sfu.createAnswer());
    await client.setRemoteDescription(sfu.localDescription!);
    await waitFor(
      () => client.connectionState === "connected" && sfu.connectionState === "connected",
      10_000,
      "the loopback peers to connect",
    );
    sending = setInterval(() => {
      const header = new RtpHeader({ payloadType: 111, sequenceNumber: seq++, timestamp: seq * 960 });
      track.writeRtp(new RtpPacket(header, Buffer.alloc(40, 7)));
    }, 10);
    await waitFor(() => received >= 5, 10_000, "RTP through werift");
  });

  after(async () => {
    clearInterval(sending);
    await Promise.all([client?.close(), sfu?.close()]);
  });

  it(`is the werift release lib/werift was read from (${WERIFT_VERSION})`, () => {
    const installed = (
      JSON.parse(
        readFileSync(new URL("../../node_modules/werift/package.json", import.meta.url), "utf8"),
      ) as {
        version: string;
      }
    ).version;
    expect(
      installed,
      `werift ${installed} is installed but lib/werift was read from ${WERIFT_VERSION}: re-read every member it names`,
    ).to.equal(WERIFT_VERSION);
  });

  describe("DTLS certificate", () => {
    const weriftRequire = createRequire(new URL("../../node_modules/werift/package.json", import.meta.url));
    /** werift's builds that import @peculiar/x509: the ES module bundles and the CommonJS file. */
    const importers = ["lib/index.mjs", "lib/nonstandard/index.mjs", "lib/dtls/src/context/cipher.js"];

    it("@peculiar/x509 as werift resolves it is lib/werift/x509-shim (package.json overrides)", () => {
      expect(weriftRequire.resolve("@peculiar/x509")).to.match(/lib\/werift\/x509-shim\/index\.cjs$/);
    });

    it("werift uses only cryptoProvider, X509CertificateGenerator and PemConverter of @peculiar/x509 (x509-shim)", () => {
      const used = new Set<string>();
      for (const file of importers) {
        const source = readFileSync(new URL(`../../node_modules/werift/${file}`, import.meta.url), "utf8");
        // Each file binds the package to one namespace, `x509`, and reaches it only through that name.
        const bindings = source.match(/^.*["']@peculiar\/x509["'].*$/gm) ?? [];
        expect(bindings, `${file} imports @peculiar/x509 once, as a namespace`).to.have.length(1);
        expect(bindings[0], moved(`${file}'s @peculiar/x509 import`)).to.match(
          /^(import \* as x509 from|const x509 = __importStar\(require\()/,
        );
        for (const [, member] of source.matchAll(/\bx509\.(\w+)/g)) used.add(member!);
      }
      expect([...used].sort(), moved("its use of @peculiar/x509")).to.deep.equal([
        "PemConverter",
        "X509CertificateGenerator",
        "cryptoProvider",
      ]);
    });

    it("the loopback peers' DTLS handshake ran on a certificate the shim made", () => {
      const certificate = RTCDtlsTransport.localCertificate;
      expect(certificate, "werift's process-wide certificate").to.not.equal(undefined);
      expect(new X509Certificate(certificate!.certPem).subject).to.equal("CN=werift");
      expect(sfu.connectionState).to.equal("connected");
    });
  });

  describe("ICE connection", () => {
    const connection = () => sfu.iceTransports[0]!.connection;

    it("Connection.ensureProtocol and Connection.protocols: every socket is seen (watchIceSockets)", () => {
      const internals = fields(connection());
      expect(internals.ensureProtocol, moved("Connection.ensureProtocol")).to.be.a("function");
      expect(internals.protocols, moved("Connection.protocols")).to.be.an("array").that.is.not.empty;
      expect(watchMissing, moved("Connection.ensureProtocol / Connection.protocols")).to.deep.equal([
        undefined,
      ]);
      expect(sockets, moved("Connection.ensureProtocol (no socket reached the hook)")).to.not.be.empty;
      for (const socket of internals.protocols as IceSocket[]) expect(sockets).to.include(socket);
    });

    it("StunProtocol.datagramReceived: every datagram passes the filter (filterIceSocket)", () => {
      for (const socket of sockets)
        expect(fields(socket).datagramReceived, moved("StunProtocol.datagramReceived")).to.be.a("function");
      expect(filtered, moved("StunProtocol.datagramReceived (no datagram reached the filter)")).to.be.above(
        0,
      );
      expect(dtlsTransportOf(sfu, sockets[0]!), moved("Connection.protocols (dtlsTransportOf)")).to.equal(
        sfu.dtlsTransports[0],
      );
    });

    it("StunOverTurnProtocol.handleStunMessage: a relayed socket's datagrams pass the filter (filterIceSocket)", () => {
      const onData = new Event<[Buffer, readonly [string, number]]>();
      const relayed = new StunOverTurnProtocol({ onData } as unknown as TurnProtocol);
      const seen: Buffer[] = [];
      expect(
        filterIceSocket(relayed, (data) => (seen.push(data), false)),
        moved("StunOverTurnProtocol.handleStunMessage"),
      ).to.equal(undefined);
      onData.execute(Buffer.from([0x80, 0x6f, 0, 1]), ["127.0.0.1", 5000]);
      expect(
        seen,
        moved("StunOverTurnProtocol.handleStunMessage (no datagram reached the filter)"),
      ).to.have.length(1);
    });

    it("Connection.onData.execute: looked up per datagram, so replacing it intercepts (interceptIceData)", async () => {
      const event = connection().onData;
      expect(event.execute, moved("Connection.onData.execute")).to.be.a("function");
      let taken = 0;
      const before = received;
      const restore = interceptIceData(connection(), () => {
        taken++;
        return false;
      });
      try {
        await waitFor(() => taken >= 5 && received >= before + 5, 5_000, "datagrams through the interceptor");
      } catch {
        expect.fail(moved("Connection.onData.execute (datagrams no longer pass through it)"));
      } finally {
        restore();
      }
      expect(taken).to.be.above(0);
    });

    it("Connection.stunServer: set to werift's default without STUN servers (disableDefaultStun)", () => {
      expect(stunServerBeforeGathering, moved("Connection.stunServer (its default)")).to.be.an("array");
      expect(connection().stunServer, "cleared by disableDefaultStun").to.equal(undefined);
    });

    it("Connection.iceControlling and Connection.remoteIsLite: the agent's role (pinControlledRole, pinControllingRole)", async () => {
      const conn = connection();
      // setRemoteParams copies the SDP's ice-lite flag, which is undefined for a full agent.
      expect(conn, moved("Connection.remoteIsLite")).to.have.property("remoteIsLite");
      expect(conn.remoteIsLite, moved("Connection.remoteIsLite")).to.not.equal(true);
      // werift keeps the role of a nominated pair, so the pins are seen on an agent still without one.
      const checking = loopbackPeer();
      try {
        checking.addTransceiver("audio", { direction: "recvonly" });
        await checking.setLocalDescription(await checking.createOffer());
        const agent = checking.iceTransports[0]!.connection;
        expect(agent.iceControlling, "an offerer is controlling").to.equal(true);
        pinControlledRole(checking);
        expect(agent.iceControlling, moved("Connection.iceControlling")).to.equal(false);
        pinControllingRole(checking);
        expect(agent.iceControlling, moved("Connection.iceControlling")).to.equal(true);
      } finally {
        await checking.close();
      }
    });

    it("Connection.userHistory, localUsername and localPassword: the local ICE credentials (localIcePassword)", () => {
      const conn = connection();
      expect(fields(conn).userHistory, moved("Connection.userHistory")).to.be.an("object");
      expect(conn.localUsername, moved("Connection.localUsername")).to.be.a("string").that.is.not.empty;
      expect(localIcePassword(sfu, conn.localUsername)).to.equal(conn.localPassword);
      expect(localIcePassword(sfu, "constructor")).to.equal(undefined);
      expect(localIceUfrags(conn), moved("Connection.userHistory (localIceUfrags)")).to.include(
        conn.localUsername,
      );
    });

    it("StunProtocol.connectionMade and StunProtocol.transport: a UDP socket takes the SFU's transport (replaceUdpTransport)", async () => {
      const mux = new UdpMux({ family: 4, port: 0, bindAddress: "127.0.0.1", logger: createSilentLogger() });
      try {
        const protocol = new StunProtocol();
        expect(fields(protocol).connectionMade, moved("StunProtocol.connectionMade")).to.be.a("function");
        expect(replaceUdpTransport(protocol, () => mux.createTransport(() => undefined))).to.equal(undefined);
        await protocol.connectionMade(true);
        expect(protocol.transport, moved("StunProtocol.transport")).to.be.an.instanceOf(MuxTransport);
        expect(protocol.getExtraInfo(), moved("StunProtocol.transport (getExtraInfo)")).to.deep.equal([
          "127.0.0.1",
          mux.address.port,
        ]);
        await protocol.close();
        expect(mux.stats.transports, "closing werift's socket releases the transport").to.equal(0);
      } finally {
        await mux.close();
      }
    });

    it("Connection.checkRequestOptions: werift reads it for every check (patientIceChecks)", () => {
      expect(checkOptions, moved("Connection.checkRequestOptions (no check asked it)")).to.not.be.empty;
      for (const options of checkOptions)
        expect(options).to.include({
          retransmissions: ICE_CHECK_RETRANSMISSIONS,
          responseTimeout: ICE_CHECK_RTO_MS,
        });
    });

    it("RTCDtlsTransport.dtls and DtlsSocket.dtls.flight: the handshake's flight counter (endDtlsHandshakes)", () => {
      const socket = sfu.dtlsTransports[0]!.dtls;
      expect(socket, moved("RTCDtlsTransport.dtls")).to.be.an("object");
      const flight = socket!.dtls.flight;
      expect(flight, moved("DtlsContext.flight")).to.be.a("number").at.least(5);
      // A connected handshake is left alone.
      endDtlsHandshakes(sfu);
      expect(socket!.dtls.flight).to.equal(flight);
    });

    it("RTCDtlsTransport.iceTransport and Connection.nominated: a connected pair is nominated (restartIceChecks)", () => {
      const dtls = sfu.dtlsTransports[0]!;
      expect(dtls.iceTransport, moved("RTCDtlsTransport.iceTransport")).to.equal(sfu.iceTransports[0]);
      expect(dtls.iceTransport.connection.nominated, moved("Connection.nominated")).to.be.an("object");
      let failed: unknown;
      restartIceChecks(sfu, (error) => (failed = error));
      expect(failed).to.equal(undefined);
    });
  });

  describe("SRTP", () => {
    it("SrtpContext.srtpSSRCStates: werift's decryption state per SSRC (srtpStreamState)", () => {
      const session = sfu.dtlsTransports[0]!.srtp as SrtpSession | undefined;
      expect(session, moved("RTCDtlsTransport.srtp")).to.be.an("object");
      const states = fields(session!.remoteContext).srtpSSRCStates as Record<number, Fields> | undefined;
      expect(states, moved("SrtpContext.srtpSSRCStates")).to.be.an("object");
      expect(states![ssrc]?.rolloverCounter, moved("SrtpSsrcState.rolloverCounter")).to.be.a("number");
      expect(states![ssrc]?.lastSequenceNumber, moved("SrtpSsrcState.lastSequenceNumber")).to.be.a("number");
      const state = srtpStreamState(session, ssrc);
      expect(state?.roc).to.equal(0);
      expect(state?.highestSeq).to.be.within(4, seq);
    });
  });

  describe("transceivers and events", () => {
    let transceiver: RTCRtpTransceiver;
    before(() => {
      transceiver = sfu.addTransceiver("audio", { direction: "sendonly" });
    });

    it("RTCRtpSender.rtcpCancel and RTCRtpReceiver.rtcpCancel: the RTCP loops' abort controllers (releaseTransceiver)", () => {
      const sender = fields(transceiver.sender);
      const receiver = fields(transceiver.receiver);
      expect(sender.rtcpCancel, moved("RTCRtpSender.rtcpCancel")).to.be.an.instanceOf(AbortController);
      expect(receiver.rtcpCancel, moved("RTCRtpReceiver.rtcpCancel")).to.be.an.instanceOf(AbortController);
    });

    it("RTCRtpSender.dtlsDisposer: the sender's subscriptions to the DTLS transport (releaseTransceiver)", () => {
      const disposers = fields(transceiver.sender).dtlsDisposer;
      expect(disposers, moved("RTCRtpSender.dtlsDisposer")).to.be.an("array").that.is.not.empty;
      for (const dispose of disposers as unknown[])
        expect(dispose, moved("RTCRtpSender.dtlsDisposer")).to.be.a("function");
      releaseTransceiver(transceiver);
      expect(disposers).to.deep.equal([]);
      expect((fields(transceiver.sender).rtcpCancel as AbortController).signal.aborted).to.equal(true);
      expect((fields(transceiver.receiver).rtcpCancel as AbortController).signal.aborted).to.equal(true);
    });

    it("Event.event.promiseStack: where queuing subscriptions wait (slimForwardingTransceiver)", () => {
      const event = new Event<[number]>();
      const state = fields(event).event as Fields | undefined;
      expect(state?.promiseStack, moved("Event.event.promiseStack")).to.be.an("array").that.is.empty;
      event.queuingSubscribe(() => Promise.resolve());
      expect(state?.promiseStack, moved("Event.event.promiseStack (queuingSubscribe)")).to.have.length(1);
      expect(event.length, "plain subscriptions only").to.equal(0);
    });
  });
});
