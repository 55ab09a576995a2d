import { expect } from "chai";
import { Connection, MediaStreamTrack, type RTCPeerConnection } from "werift";
import { useSfu } from "../helpers/fixture.js";
import { loopbackPeer } from "../helpers/loopbackPeer.js";
import type { SignalingClient } from "../helpers/SignalingClient.js";
import { waitFor } from "../helpers/wait.js";

/** What browsers and other SDKs put next to a candidate line: nothing, nulls, or a mid/index the SFU never saw. */
const ADDRESSING = [
  {},
  { sdpMid: null, sdpMLineIndex: null },
  { sdpMid: "unknown" },
  { sdpMLineIndex: 7 },
  { sdpMid: "unknown", sdpMLineIndex: 42, usernameFragment: "stale" },
];

interface Client {
  signaling: SignalingClient;
  pc: RTCPeerConnection;
  /** The client's offer without its candidates: they reach the SFU only trickled. */
  sdp: string;
  candidates: string[];
}

/**
 * Records every werift ICE agent that starts checks in this process: the
 * SFU's runs here too, so a test can read which remote candidate it nominated.
 */
function recordIceAgents(): Connection[] {
  const agents: Connection[] = [];
  const connect = Object.getOwnPropertyDescriptor(Connection.prototype, "connect")!.value as (
    this: Connection,
  ) => Promise<void>;
  beforeEach(() => {
    Connection.prototype.connect = function (this: Connection) {
      agents.push(this);
      return connect.call(this);
    };
  });
  afterEach(() => {
    Connection.prototype.connect = connect;
    agents.splice(0);
  });
  return agents;
}

describe("trickled client candidates on the bundle transport", function () {
  this.timeout(30_000);
  const sfu = useSfu();
  const agents = recordIceAgents();
  const clients: Client[] = [];

  afterEach(async () => {
    for (const client of clients.splice(0)) await client.pc.close();
  });

  async function joinedClient(userId: string): Promise<Client> {
    const signaling = await sfu.connect();
    const pc = loopbackPeer();
    const client: Client = { signaling, pc, sdp: "", candidates: [] };
    clients.push(client);
    await signaling.join({ roomId: "trickle", userId });
    pc.addTransceiver(new MediaStreamTrack({ kind: "audio" }), { direction: "sendrecv" });
    await pc.setLocalDescription(await pc.createOffer());
    await waitFor(() => pc.iceGatheringState === "complete", 5_000, "gathering");
    const lines = pc.localDescription!.sdp.split("\r\n");
    client.candidates = lines.filter((l) => l.startsWith("a=candidate:")).map((l) => l.slice(2));
    client.sdp = lines
      .filter((l) => !l.startsWith("a=candidate:") && l !== "a=end-of-candidates")
      .join("\r\n");
    expect(client.candidates).to.not.be.empty;
    return client;
  }

  /** Connects, and returns the remote candidate of the pair the SFU's ICE agent nominated. */
  async function connect(client: Client): Promise<{ type: string; host: string; port: number }> {
    const answer = await client.signaling.waitForEvent("answer");
    await client.pc.setRemoteDescription(answer);
    await waitFor(() => client.pc.connectionState === "connected", 10_000, "client connected");
    await waitFor(
      () => sfu.server.service.peerSnapshots().every((p) => p.connectionState === "connected"),
      10_000,
      "SFU connected",
    );
    const own = client.pc.iceTransports.map((t) => t.connection);
    const sfuAgents = agents.filter((agent) => !own.includes(agent));
    expect(sfuAgents, "the SFU's ICE agent").to.have.length(1);
    const { type, host, port } = sfuAgents[0]!.nominated!.remoteCandidate;
    return { type, host, port };
  }

  /**
   * ICE connects through a peer-reflexive address with no candidate trickled at
   * all, so a connection alone proves nothing: the SFU must have nominated the
   * very host candidate the client trickled.
   */
  async function expectConnected(client: Client): Promise<void> {
    const [address, port] = client.candidates[0]!.split(" ").slice(4, 6);
    expect(await connect(client)).to.deep.equal({ type: "host", host: address, port: Number(port) });
  }

  it("accepts candidates without sdpMid and sdpMLineIndex, or with unknown ones, after the answer", async () => {
    const client = await joinedClient("after");
    expect(await client.signaling.request("offer", { type: "offer", sdp: client.sdp })).to.deep.equal({
      ok: true,
    });
    await client.signaling.waitForEvent("answer");
    for (const addressing of ADDRESSING) {
      for (const candidate of client.candidates) {
        const ack = await client.signaling.request("ice-candidate", { candidate, ...addressing });
        expect(ack, JSON.stringify(addressing)).to.deep.equal({ ok: true });
      }
    }
    await expectConnected(client);
  });

  it("accepts them trickled before the offer and right behind it, and the offer is still answered", async () => {
    const client = await joinedClient("before");
    const [first, ...rest] = client.candidates;
    const early = await client.signaling.request("ice-candidate", { candidate: first });
    const offer = client.signaling.request("offer", { type: "offer", sdp: client.sdp });
    const behind = ADDRESSING.flatMap((addressing) =>
      [first, ...rest].map((candidate) =>
        client.signaling.request("ice-candidate", { candidate, ...addressing }),
      ),
    );
    expect(early).to.deep.equal({ ok: true });
    expect(await offer).to.deep.equal({ ok: true });
    for (const ack of await Promise.all(behind)) expect(ack).to.deep.equal({ ok: true });
    await expectConnected(client);
  });

  it("without any trickled candidate the SFU connects only through a peer-reflexive one (what the checks above rule out)", async () => {
    const client = await joinedClient("silent");
    expect(await client.signaling.request("offer", { type: "offer", sdp: client.sdp })).to.deep.equal({
      ok: true,
    });
    const [address, port] = client.candidates[0]!.split(" ").slice(4, 6);
    expect(await connect(client)).to.deep.equal({ type: "prflx", host: address, port: Number(port) });
  });

  it("refuses malformed candidate fields with BAD_REQUEST naming the field, and the session goes on", async () => {
    const client = await joinedClient("malformed");
    await client.signaling.request("offer", { type: "offer", sdp: client.sdp });
    const candidate = client.candidates[0];
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ sdpMid: "0" }, "candidate is required"],
      [{ candidate: 5 }, "candidate must be a string"],
      [{ candidate, sdpMid: 5 }, "sdpMid must be a string"],
      [{ candidate, sdpMLineIndex: "0" }, "sdpMLineIndex must be a number"],
      [{ candidate, sdpMLineIndex: -1 }, "sdpMLineIndex must be between 0 and 1023"],
      [{ candidate, sdpMLineIndex: 1.5 }, "sdpMLineIndex must be a whole number"],
      [{ candidate: "candidate:1 1 udp 1 127.0.0.1 port typ host" }, "candidate port must be a number"],
    ];
    for (const [payload, message] of cases) {
      const ack = await client.signaling.request("ice-candidate", payload);
      expect(ack, JSON.stringify(payload)).to.deep.equal({
        ok: false,
        error: { code: "BAD_REQUEST", message },
      });
    }
    for (const candidate of client.candidates) {
      expect(await client.signaling.request("ice-candidate", { candidate })).to.deep.equal({ ok: true });
    }
    await expectConnected(client);
  });
});
