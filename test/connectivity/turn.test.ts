import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { Writable } from "node:stream";
import { expect } from "chai";
import request from "supertest";
import winston from "winston";
import type { StunOverTurnProtocol } from "werift";
import type { JoinedMessage } from "../../lib/protocol.js";
import type { PeerSnapshot } from "../../lib/types.js";
import { SfuNode } from "../cluster/SfuNode.js";
import { useCoturn } from "../helpers/coturn.js";
import { expectAllHear } from "../helpers/hear.js";
import { MediaClient, type MediaClientOptions } from "../helpers/MediaClient.js";
import { startServer, type TestServer } from "../helpers/server.js";
import { waitFor } from "../helpers/wait.js";

/** Established TCP connections from this machine to 127.0.0.1:`port` (/proc/net/tcp). */
function connectionsTo(port: number): number {
  const remote = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  return readFileSync("/proc/net/tcp", "utf8")
    .split("\n")
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields[2] === remote && fields[3] === "01").length;
}

describe("connectivity through a TURN relay (a real coturn)", function () {
  this.timeout(60_000);
  const coturn = useCoturn();
  let server: TestServer | undefined;
  const clients: MediaClient[] = [];

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await server?.close();
    server = undefined;
  });

  /** Warnings and errors the SFU logged in this test. */
  let problems: Array<Record<string, unknown>> = [];

  async function startSfu(env: Record<string, string>): Promise<TestServer> {
    problems = [];
    const logger = winston.createLogger({
      level: "warn",
      format: winston.format.json(),
      transports: [
        new winston.transports.Stream({
          stream: new Writable({
            write(chunk: Buffer, _encoding, done) {
              problems.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
              done();
            },
          }),
        }),
      ],
    });
    server = await startServer({ TURN_SECRET: coturn.turn.secret, ...env }, 0, logger);
    return server;
  }

  async function join(roomId: string, userId: string, options: Partial<MediaClientOptions> = {}) {
    if (!server) throw new Error("no SFU");
    const client = await MediaClient.join(server.url, { roomId, userId, ...options });
    clients.push(client);
    return client;
  }

  /** Both directions carry 50 packets, each byte-identical to what its source sent. */
  async function expectAudioBothWays(a: MediaClient, b: MediaClient): Promise<void> {
    a.startSending();
    b.startSending();
    for (const [receiver, source] of [
      [a, b],
      [b, a],
    ] as const) {
      try {
        await receiver.waitForPackets(source.peerId, 50, 15_000);
      } catch (error) {
        // Say where the path broke: ICE on either side, or the SFU's forwarding.
        const rows = server ? await peerRows(server) : [];
        const state = (c: MediaClient) =>
          `${c.options.userId} ${c.pc.connectionState}/${c.pc.iceConnectionState}`;
        throw new Error(
          `${String(error)}; clients: ${state(a)}, ${state(b)}; SFU peers: ${JSON.stringify(
            rows.map((r) => [r.userId, r.connectionState, r.selectedPair, r.published, r.subscribed]),
          )}`,
          { cause: error },
        );
      }
      const stats = receiver.stats(source.peerId)!;
      expect(stats.corrupt, `${receiver.options.userId} <- ${source.options.userId} corrupt`).to.equal(0);
      expect([...stats.sources]).to.deep.equal([source.options.userId]);
    }
  }

  async function peerRows(sfu: TestServer): Promise<PeerSnapshot[]> {
    const res = await request(sfu.url).get("/debug/peers").expect(200);
    return (res.body as { peers: PeerSnapshot[] }).peers;
  }

  /** The local candidate type of the pair a werift client selected. */
  function clientLocalType(client: MediaClient): string | undefined {
    return client.pc.iceTransports[0]?.connection.nominated?.localCandidate.type;
  }

  for (const transport of ["udp", "tcp"] as const) {
    it(`runs the whole media path through TURN/${transport}: relay-only SFU, relaying clients, audio intact`, async () => {
      const sfu = await startSfu({ TURN_URLS: coturn.turn.url(transport), ICE_RELAY_ONLY: "true" });
      const alice = await join("relay-room", "alice", { relay: {} });
      const bob = await join("relay-room", "bob", { relay: {} });
      await expectAudioBothWays(alice, bob);

      const rows = await peerRows(sfu);
      expect(rows).to.have.length(2);
      for (const row of rows) {
        expect(row.selectedPair?.local, `${row.userId}: the SFU's side is relayed`).to.equal("relay");
        // The client's relayed address is learned from its trickled candidate, or from its first check.
        expect(row.selectedPair?.remote).to.be.oneOf(["relay", "prflx"]);
        expect(row.selectedPair?.protocol, "the SFU reaches coturn over the URL's transport").to.equal(
          transport,
        );
      }
      expect(clientLocalType(alice)).to.equal("relay");
      expect(clientLocalType(bob)).to.equal("relay");
      // Among them: the datagram guard found the relayed socket's receive hook ("werift internals changed" otherwise).
      expect(problems, "nothing logged at warn or error").to.deep.equal([]);

      // The SFU offered its relayed candidate and nothing else, in its answers and trickled.
      const offered = [
        ...alice.signaling.events("answer").flatMap((a) => a.sdp.match(/^a=candidate:.*$/gm) ?? []),
        ...alice.signaling.events("ice-candidate").map((c) => c.candidate),
      ];
      expect(offered).to.not.be.empty;
      for (const line of offered) expect(line).to.match(/ typ relay\b/);

      // The SFU's own SRTP path carries the relayed packets both ways, not werift's.
      const tracks = sfu.service.getRoom("relay-room")!.tracks;
      expect(tracks).to.have.length(2);
      for (const track of tracks) {
        expect(track.fastPath, "publisher's packets on the SFU's receive path").to.equal(true);
        expect(track.fastSubscribers, "the subscriber on the SFU's send path").to.equal(1);
      }

      const metrics = await request(sfu.url).get("/metrics").expect(200);
      const relayed = [
        ...metrics.text.matchAll(/^sfu_ice_selected_pairs\{local_type="relay",[^}]*\} (\d+)$/gm),
      ];
      expect(relayed.reduce((sum, match) => sum + Number(match[1]), 0)).to.equal(2);

      if (transport === "tcp") {
        // Each side holds one TCP connection to coturn per peer connection; leaving must end the SFU's.
        expect(connectionsTo(coturn.turn.port)).to.equal(4);
        for (const client of [alice, bob]) {
          expect(await client.signaling.request("leave", { roomId: "relay-room" })).to.deep.equal({
            ok: true,
          });
          await client.close();
        }
        await waitFor(() => connectionsTo(coturn.turn.port) === 0, 5_000, "the TURN connections to close");
      }
    });
  }

  it("relays from a forwarding worker thread too (SFU_WORKERS)", async () => {
    const sfu = await startSfu({
      TURN_URLS: coturn.turn.url("udp"),
      ICE_RELAY_ONLY: "true",
      SFU_WORKERS: "1",
    });
    const alice = await join("worker-relay", "alice");
    const bob = await join("worker-relay", "bob");
    await expectAudioBothWays(alice, bob);
    const rows = await peerRows(sfu);
    expect(rows.map((row) => row.selectedPair?.local)).to.deep.equal(["relay", "relay"]);
  });

  it("relays only the clients when the SFU stays on its host candidates", async () => {
    const sfu = await startSfu({ TURN_URLS: coturn.turn.url("udp") });
    const alice = await join("clients-relay", "alice", { relay: {} });
    const bob = await join("clients-relay", "bob", { relay: {} });
    await expectAudioBothWays(alice, bob);
    for (const row of await peerRows(sfu)) {
      expect(row.selectedPair?.local).to.equal("host");
      expect(row.selectedPair?.remote).to.be.oneOf(["relay", "prflx"]);
      expect(row.selectedPair?.protocol).to.equal("udp");
    }
    expect(clientLocalType(alice)).to.equal("relay");
  });

  it("hands each join fresh coturn credentials beside the STUN servers, and the relay policy when asked", async () => {
    await startSfu({
      TURN_URLS: `${coturn.turn.url("udp")},${coturn.turn.url("tcp")}`,
      TURN_CREDENTIAL_TTL: "600",
      ICE_RELAY_ONLY_CLIENTS: "true",
      // Relay-only, the SFU gathers no server-reflexive candidate: the STUN server is only handed on.
      ICE_RELAY_ONLY: "true",
      STUN_SERVERS: "stun:127.0.0.1:9",
    });
    const before = Math.floor(Date.now() / 1000);
    const alice = await join("creds", "alice", { relay: {} });
    const joined = alice.joined!;
    expect(joined.iceTransportPolicy).to.equal("relay");
    expect(joined.iceServers[0]).to.deep.equal({ urls: "stun:127.0.0.1:9" });
    const turn = joined.iceServers[1]!;
    expect(turn.urls).to.deep.equal([coturn.turn.url("udp"), coturn.turn.url("tcp")]);
    const [expiry, name] = turn.username!.split(":");
    expect(name).to.equal(joined.peerId);
    expect(Number(expiry)).to.be.within(before + 600, before + 602);
    expect(turn.credential).to.equal(
      createHmac("sha1", coturn.turn.secret).update(turn.username!).digest("base64"),
    );
    // Minted at the moment of the join: a second join gets its own.
    const bob = await join("creds", "bob", { relay: {} });
    expect(bob.joined!.iceServers[1]!.username).to.match(new RegExp(`^\\d+:${bob.peerId}$`));
    await expectAudioBothWays(alice, bob);
  });

  it("gives an expired or forged credential no relay: that peer is removed as failed, the others keep talking", async () => {
    await startSfu({ TURN_URLS: coturn.turn.url("udp"), ICE_TIMEOUT_MS: "2000" });
    const alice = await join("bad-creds", "alice", { relay: {} });
    const bob = await join("bad-creds", "bob", { relay: {} });
    await expectAudioBothWays(alice, bob);

    const withCredential = (username: (joined: JoinedMessage) => string, secret: string) => ({
      negotiate: false,
      relay: {
        iceServers: (joined: JoinedMessage) => {
          const name = username(joined);
          const credential = createHmac("sha1", secret).update(name).digest("base64");
          return [{ urls: coturn.turn.url("udp"), username: name, credential }];
        },
      },
    });
    const now = Math.floor(Date.now() / 1000);
    const expired = await join(
      "bad-creds",
      "expired",
      withCredential((j) => `${now - 60}:${j.peerId}`, coturn.turn.secret),
    );
    const forged = await join(
      "bad-creds",
      "forged",
      withCredential((j) => `${now + 600}:${j.peerId}`, "not-the-secret"),
    );
    // werift gathers before it offers, and coturn refuses both allocations: no candidate, no offer in time.
    const offers = [expired, forged].map((client) =>
      client.offer().then(
        () => "answered",
        (error: Error) => error.message,
      ),
    );

    for (const bad of [expired, forged]) {
      const left = await alice.signaling.waitForEvent("user-left", (m) => m.peerId === bad.peerId, 10_000);
      expect(left.reason).to.equal("failed");
      const removal = await bad.signaling.waitForEvent("error", undefined, 5_000);
      expect(removal.code).to.equal("NEGOTIATION_FAILED");
    }
    for (const outcome of await Promise.all(offers)) expect(outcome).to.match(/NOT_JOINED/);
    for (const bad of [expired, forged]) {
      expect(bad.pc.iceTransports[0]!.connection.localCandidates, "no relayed candidate").to.deep.equal([]);
    }
    expect(coturn.turn.log).to.match(/401: Unauthorized/);
    const aliceFromBob = alice.packetsFrom(bob.peerId);
    const bobFromAlice = bob.packetsFrom(alice.peerId);
    await alice.waitForPackets(bob.peerId, 25);
    await bob.waitForPackets(alice.peerId, 25);
    expect(alice.packetsFrom(bob.peerId)).to.be.greaterThan(aliceFromBob);
    expect(bob.packetsFrom(alice.peerId)).to.be.greaterThan(bobFromAlice);
    expect(alice.stats(bob.peerId)!.corrupt).to.equal(0);
  });
});

describe("TURN over TLS (turns:, a real coturn with a self-signed certificate)", function () {
  this.timeout(60_000);
  const coturn = useCoturn({ tls: true });
  let server: TestServer | undefined;
  const clients: MediaClient[] = [];

  let node: SfuNode | undefined;

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await server?.close();
    server = undefined;
    await node?.kill("SIGTERM");
    node = undefined;
  });

  it("carries audio byte-identical through turns: to an SFU on its host candidates", async () => {
    server = await startServer({ TURN_URLS: coturn.turn.url("tls"), TURN_SECRET: coturn.turn.secret });
    // The clients trust the test's certificate as a browser trusts a real one.
    const relay = { turnTlsOptions: { ca: coturn.turn.certificate! } };
    for (const userId of ["alice", "bob"]) {
      clients.push(await MediaClient.join(server.url, { roomId: "turns", userId, relay }));
    }
    const [alice, bob] = clients as [MediaClient, MediaClient];
    await expectAllHear([alice, bob], 50);
    for (const client of clients) {
      const pair = client.pc.iceTransports[0]!.connection.nominated!;
      expect(pair.localCandidate.type).to.equal("relay");
      expect((pair.protocol as StunOverTurnProtocol).turn.transport.type).to.equal("tls");
    }
  });
  it("runs the relay-only SFU's own allocations over turns: too, with a certificate the SFU process trusts", async () => {
    // As a deployment trusts a private CA: Node reads NODE_EXTRA_CA_CERTS once, at start-up.
    node = await SfuNode.start({
      nodeId: "turns-relay",
      env: {
        TURN_URLS: coturn.turn.url("tls"),
        TURN_SECRET: coturn.turn.secret,
        ICE_RELAY_ONLY: "true",
        NODE_EXTRA_CA_CERTS: coturn.turn.certificateFile!,
      },
    });
    const relay = { turnTlsOptions: { ca: coturn.turn.certificate! } };
    for (const userId of ["alice", "bob"]) {
      clients.push(await MediaClient.join(node.url, { roomId: "turns-relay", userId, relay }));
    }
    const [alice, bob] = clients as [MediaClient, MediaClient];
    await expectAllHear([alice, bob], 50);

    const { status, body } = await node.get<{ peers: PeerSnapshot[] }>("/debug/peers");
    expect(status).to.equal(200);
    expect(body.peers).to.have.length(2);
    for (const row of body.peers) {
      expect(row.selectedPair?.local, `${row.userId}: the SFU's side is relayed`).to.equal("relay");
      expect(row.selectedPair?.protocol, "TLS to coturn shows as tcp (PROTOCOL §13)").to.equal("tcp");
    }
    const offered = alice.signaling.events("answer").flatMap((a) => a.sdp.match(/^a=candidate:.*$/gm) ?? []);
    expect(offered).to.not.be.empty;
    for (const line of offered) expect(line).to.match(/ typ relay\b/);
    // One TLS connection per peer connection on each side: the SFU's two and the clients' two.
    expect(connectionsTo(coturn.turn.tlsPort!)).to.equal(4);
  });
  it("an SFU process that does not trust the turns: certificate gets no relay: its peer is removed as failed, no candidate tried", async () => {
    node = await SfuNode.start({
      nodeId: "turns-untrusted",
      env: {
        TURN_URLS: coturn.turn.url("tls"),
        TURN_SECRET: coturn.turn.secret,
        ICE_RELAY_ONLY: "true",
        ICE_TIMEOUT_MS: "3000",
      },
    });
    const relay = { turnTlsOptions: { ca: coturn.turn.certificate! } };
    const alice = await MediaClient.join(node.url, { roomId: "turns-untrusted", userId: "alice", relay });
    clients.push(alice);
    const removal = await alice.signaling.waitForEvent("error", undefined, 10_000);
    expect(removal.code).to.equal("NEGOTIATION_FAILED");
    const failed = node.logs.find((line) => line.message === "ICE did not connect in time");
    expect(failed?.candidates, "the log says the SFU had no candidate of its own").to.deep.include({
      local: [],
    });
  });
});
