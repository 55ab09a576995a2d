import { createSocket, type Socket } from "node:dgram";
import { expect } from "chai";
import type { IceConnection } from "werift";
import type { UdpMuxStats } from "../../lib/sfu/UdpMux.js";
import { iceCredentials, bindingRequest } from "../hardening/stun.js";
import { MediaClient, type MediaClientOptions } from "../helpers/MediaClient.js";
import { startServer, type TestServer } from "../helpers/server.js";
import { sleep, waitFor } from "../helpers/wait.js";
import { ClientFleet } from "./ClientFleet.js";
import { freeUdpPort, processUdpPorts, udpDrops } from "../helpers/udpSockets.js";

/** What the tests read of a werift client's ICE agent beyond its typings. */
interface ClientConnection {
  protocols: Array<{ transport: { close(): Promise<void> } }>;
}

function nominated(client: MediaClient) {
  return client.pc.iceTransports[0]!.connection.nominated;
}

/** A UDP socket on 127.0.0.1 that records every datagram it is sent. */
async function stranger(): Promise<{ socket: Socket; replies: Buffer[] }> {
  const socket = createSocket("udp4");
  const replies: Buffer[] = [];
  socket.on("message", (data) => replies.push(data));
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return { socket, replies };
}

function send(socket: Socket, data: Buffer, port: number): Promise<void> {
  return new Promise((resolve) => socket.send(data, port, "127.0.0.1", () => resolve()));
}

/** An RTP header (version 2, Opus payload type) with `ssrc`, then noise. */
function strangerRtp(ssrc: number, seq: number): Buffer {
  const packet = Buffer.alloc(60, seq & 0xff);
  packet[0] = 0x80;
  packet[1] = 111;
  packet.writeUInt16BE(seq & 0xffff, 2);
  packet.writeUInt32BE(seq * 960, 4);
  packet.writeUInt32BE(ssrc >>> 0, 8);
  return packet;
}

describe("one UDP port for every peer (ICE_UDP_PORT)", function () {
  this.timeout(240_000);
  let server: TestServer;
  let port: number;
  const clients: MediaClient[] = [];

  beforeEach(async () => {
    port = await freeUdpPort();
    server = await startServer({ ICE_UDP_PORT: String(port) });
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await server.close();
  });

  async function join(roomId: string, userId: string, options: Partial<MediaClientOptions> = {}) {
    const client = await MediaClient.join(server.url, { roomId, userId, ...options });
    clients.push(client);
    return client;
  }

  const mux = (): UdpMuxStats => server.service.udpMuxStats[4]!;

  it("carries 50 peers in 5 rooms on one socket: every stream arrives byte-identical", async () => {
    // The clients run in a process of their own: the SFU's loop serves only its own socket, as in production.
    const fleet = new ClientFleet();
    try {
      await fleet.request({
        cmd: "join",
        url: server.url,
        rooms: ["r0", "r1", "r2", "r3", "r4"],
        perRoom: 10,
      });
      await fleet.request({ cmd: "send" });
      const { streams, pairs } = await fleet.request({
        cmd: "await-streams",
        packets: 25,
        timeoutMs: 60_000,
      });

      expect(streams).to.have.length(5 * 10 * 9);
      for (const stream of streams) {
        expect(stream.corrupt, `${stream.receiver} <- ${stream.source} corrupt`).to.equal(0);
        expect(stream.sources).to.deep.equal([stream.source]);
      }
      // Every client's media runs to the one port, from a socket of its own.
      expect(pairs).to.have.length(50);
      for (const pair of pairs) expect(pair.remotePort, `${pair.userId}'s SFU end`).to.equal(port);
      expect(new Set(pairs.map((pair) => pair.localPort)).size).to.equal(50);
      expect(processUdpPorts(), "the SFU's UDP sockets").to.deep.equal([port]);
      const stats = mux();
      expect(stats).to.include({ transports: 50, addresses: 50, dropped: 0 });
      expect(stats.ufrags).to.be.within(1, 50);
      console.log(`      50 peers: mux ${JSON.stringify(stats)}; kernel drops at the port ${udpDrops(port)}`);
    } finally {
      await fleet.close();
    }
  });

  it("answers and forwards nothing of what strangers send to the port, and audio flows on", async () => {
    const alice = await join("hostile", "alice");
    const bob = await join("hostile", "bob");
    alice.startSending();
    bob.startSending();
    await bob.waitForPackets(alice.peerId, 25);
    await alice.waitForPackets(bob.peerId, 25);
    const before = mux();
    const bobUfrag = iceCredentials(bob.signaling.events("answer")[0]!.sdp).ufrag;
    const aliceUfrag = iceCredentials(alice.signaling.events("answer")[0]!.sdp).ufrag;
    const ssrcs = [...(alice.pc.localDescription!.sdp.matchAll(/^a=ssrc:(\d+)/gm) ?? [])].map((m) =>
      Number(m[1]),
    );
    expect(ssrcs).to.not.be.empty;

    const [first, third] = await Promise.all([stranger(), stranger()]);
    const datagrams: Array<[Socket, Buffer]> = [];
    for (let i = 0; i < 50; i++) {
      // Unauthenticated STUN: bob's ufrag without MESSAGE-INTEGRITY, and with a made-up password.
      datagrams.push([first.socket, bindingRequest({ username: `${bobUfrag}:evil`, controlling: 1n })]);
      datagrams.push([
        first.socket,
        bindingRequest({
          username: `${bobUfrag}:evil`,
          password: "not-the-password-at-all",
          controlling: 1n,
        }),
      ]);
      // Alice's ufrag from a third address, signed with what it cannot know.
      datagrams.push([
        third.socket,
        bindingRequest({
          username: `${aliceUfrag}:evil`,
          password: "0123456789abcdef012345",
          controlling: 2n,
        }),
      ]);
      datagrams.push([
        first.socket,
        Buffer.from(Array.from({ length: 80 }, (_, j) => (i * 37 + j * 11) & 0xff)),
      ]);
      datagrams.push([third.socket, strangerRtp(ssrcs[0]!, 1000 + i)]);
    }
    try {
      for (const [socket, data] of datagrams) await send(socket, data, port);
      await sleep(1_000);
      expect(first.replies, "replies to the first stranger").to.have.length(0);
      expect(third.replies, "replies to the third address").to.have.length(0);
    } finally {
      first.socket.close();
      third.socket.close();
    }

    const after = mux();
    expect(after.dropped - before.dropped, "datagrams dropped by the demultiplexer").to.equal(
      datagrams.length,
    );
    expect(after.addresses, "no stranger's address is bound").to.equal(before.addresses);
    await bob.waitForPackets(alice.peerId, 25);
    await alice.waitForPackets(bob.peerId, 25);
    expect(bob.stats(alice.peerId)!.corrupt).to.equal(0);
    expect(alice.stats(bob.peerId)!.corrupt).to.equal(0);
    expect(server.service.peerSnapshots().map((p) => p.connectionState)).to.deep.equal([
      "connected",
      "connected",
    ]);
  });

  it("keeps audio flowing through an ICE restart from a new client port", async () => {
    const alice = await join("restart", "alice");
    const bob = await join("restart", "bob");
    alice.startSending();
    bob.startSending();
    await bob.waitForPackets(alice.peerId, 25);
    await alice.waitForPackets(bob.peerId, 25);
    const oldPort = nominated(bob)!.localCandidate.port;
    const oldUfrag = iceCredentials(bob.signaling.events("answer")[0]!.sdp).ufrag;

    // Bob's socket goes away, as when a phone moves networks; the restart gathers a new one.
    const connection = bob.pc.iceTransports[0]!.connection as IceConnection & ClientConnection;
    for (const protocol of connection.protocols.splice(0)) await protocol.transport.close();
    await bob.offer({ iceRestart: true });
    const newUfrag = iceCredentials(bob.signaling.events("answer").at(-1)!.sdp).ufrag;
    expect(newUfrag, "the SFU's ufrag after the restart").to.not.equal(oldUfrag);

    await waitFor(
      () => nominated(bob) && nominated(bob)!.localCandidate.port !== oldPort,
      15_000,
      "a new pair",
    );
    expect(nominated(bob)!.remoteAddr[1]).to.equal(port);
    await bob.waitForPackets(alice.peerId, 50, 15_000);
    await alice.waitForPackets(bob.peerId, 50, 15_000);
    expect(bob.stats(alice.peerId)!.corrupt).to.equal(0);
    expect(alice.stats(bob.peerId)!.corrupt).to.equal(0);
    expect(mux().transports).to.equal(2);
  });

  it("leaves nothing in the demultiplexer after 300 join/leave cycles", async () => {
    const resident = await join("churn", "resident");
    resident.startSending();
    let most = { transports: 0, addresses: 0, ufrags: 0 };
    const cycle = async (i: number) => {
      const client = await MediaClient.join(server.url, { roomId: "churn", userId: `visitor-${i}` });
      try {
        await waitFor(() => client.pc.connectionState === "connected", 15_000, `visitor ${i} to connect`);
        const stats = mux();
        most = {
          transports: Math.max(most.transports, stats.transports),
          addresses: Math.max(most.addresses, stats.addresses),
          ufrags: Math.max(most.ufrags, stats.ufrags),
        };
        const ack = await client.signaling.request("leave", { roomId: "churn" });
        expect(ack).to.deep.equal({ ok: true });
      } finally {
        await client.close();
      }
    };
    const PARALLEL = 10;
    for (let round = 0; round < 300 / PARALLEL; round++) {
      await Promise.all(Array.from({ length: PARALLEL }, (_, j) => cycle(round * PARALLEL + j)));
    }
    expect(most.transports, "visitors were on the port").to.be.above(1);
    expect(most.addresses).to.be.above(1);

    await waitFor(() => mux().transports === 1, 10_000, "only the resident's transport");
    expect(mux()).to.include({ transports: 1, ufrags: 1, addresses: 1 });
    await clients.splice(0)[0]!.close();
    await waitFor(() => server.service.peerCount === 0, 10_000, "the resident to leave");
    await waitFor(() => mux().transports === 0, 10_000, "no transports");
    expect(mux()).to.include({ transports: 0, ufrags: 0, addresses: 0 });
  });
});
