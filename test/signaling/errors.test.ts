import { expect } from "chai";
import { useSfu } from "../helpers/fixture.js";
import { SignalingClient } from "../helpers/SignalingClient.js";
import { waitFor } from "../helpers/wait.js";

describe("signaling acks and errors", function () {
  this.timeout(30_000);
  const sfu = useSfu({ MAX_PEERS_PER_ROOM: "2", MAX_CONNECTIONS: "4" });
  const connect = () => sfu.connect();

  it("acks a join with the joined message and also emits joined", async () => {
    const client = await connect();
    const ack = await client.request("join", { roomId: "r", userId: "u", displayName: "You" });
    expect(ack.ok).to.equal(true);
    const joined = (ack as unknown as { joined: Record<string, unknown> }).joined;
    expect(joined).to.include({ roomId: "r", userId: "u", resumed: false });
    expect(joined.peers).to.deep.equal([]);
    expect(joined.iceServers).to.deep.equal([]);
    expect(joined.peerId).to.be.a("string");
    expect(joined.resumeToken).to.be.a("string");
    expect(await client.waitForEvent("joined")).to.deep.equal(joined);
  });

  const badJoins: Array<[unknown, string]> = [
    [undefined, "payload must be an object"],
    ["room", "payload must be an object"],
    [{ userId: "u" }, "roomId is required"],
    [{ roomId: "r" }, "userId is required"],
    [{ roomId: 5, userId: "u" }, "roomId must be a string"],
    [{ roomId: null, userId: "u" }, "roomId must be a string"],
    [{ roomId: "", userId: "u" }, "roomId must not be empty"],
    [{ roomId: "a b", userId: "u" }, "roomId must not contain whitespace or control characters"],
    [{ roomId: "r", userId: "x".repeat(129) }, "userId must be at most 128 characters"],
    [{ roomId: "r", userId: "u\u0000" }, "userId must not contain whitespace or control characters"],
    [
      { roomId: "r", userId: "u", displayName: "y".repeat(200) },
      "displayName must be at most 128 characters",
    ],
    [{ roomId: "r", userId: "u", displayName: 5 }, "displayName must be a string"],
    [{ roomId: "r", userId: "u", token: ["t"] }, "token must be a string"],
    [{ roomId: "r", userId: "u", token: "t".repeat(4097) }, "token must be at most 4096 characters"],
    [{ roomId: "r", userId: "u", resumeToken: 5 }, "resumeToken must be a string"],
    [
      { roomId: "r", userId: "u", resumeToken: "t".repeat(257) },
      "resumeToken must be at most 256 characters",
    ],
  ];
  for (const [payload, message] of badJoins) {
    it(`refuses join ${JSON.stringify(payload)?.slice(0, 70)} with BAD_REQUEST and creates nothing`, async () => {
      const client = await connect();
      const ack = await client.request("join", payload);
      expect(ack.ok).to.equal(false);
      if (ack.ok) return;
      expect(ack.error).to.deep.equal({ code: "BAD_REQUEST", message });
      expect(sfu.server.application.sfu.rooms).to.be.empty;
    });
  }

  it("treats null optional join fields as absent, and an empty resumeToken or token as none", async () => {
    const client = await connect();
    const shapes = [
      { resumeToken: "" },
      { resumeToken: null },
      { displayName: null },
      { token: "" },
      { token: null },
      { displayName: null, token: null, resumeToken: null },
    ];
    for (const shape of shapes) {
      const ack = await client.request("join", { roomId: "optional", userId: "u", ...shape });
      expect(ack.ok, JSON.stringify(shape)).to.equal(true);
      const joined = (ack as unknown as { joined: Record<string, unknown> }).joined;
      expect(joined).to.include({ roomId: "optional", userId: "u", resumed: false });
      expect(await client.request("leave", { roomId: "optional" })).to.deep.equal({ ok: true });
    }
    expect(sfu.server.application.sfu.peerCount).to.equal(0);
  });

  it("answers NOT_JOINED for media events and leave before join", async () => {
    const client = await connect();
    for (const [event, payload] of [
      ["offer", { type: "offer", sdp: "v=0\r\n" }],
      ["answer", { type: "answer", sdp: "v=0\r\n" }],
      ["ice-candidate", { candidate: "" }],
      ["leave", { roomId: "r" }],
    ] as const) {
      const ack = await client.request(event, payload);
      expect(ack, event).to.deep.include({ ok: false });
      if (!ack.ok) expect(ack.error.code, event).to.equal("NOT_JOINED");
    }
  });

  it("answers ALREADY_JOINED for a second join on the same socket", async () => {
    const client = await connect();
    await client.join({ roomId: "r", userId: "u" });
    const ack = await client.request("join", { roomId: "other", userId: "u" });
    expect(ack.ok).to.equal(false);
    if (!ack.ok) expect(ack.error.code).to.equal("ALREADY_JOINED");
  });

  it("answers ROOM_FULL beyond MAX_PEERS_PER_ROOM", async () => {
    const [a, b, c] = [await connect(), await connect(), await connect()];
    await a.join({ roomId: "r", userId: "a" });
    await b.join({ roomId: "r", userId: "b" });
    const ack = await c.request("join", { roomId: "r", userId: "c" });
    expect(ack.ok).to.equal(false);
    if (!ack.ok) expect(ack.error.code).to.equal("ROOM_FULL");
    expect(sfu.server.application.sfu.getRoom("r")!.size).to.equal(2);
  });

  it("sends SERVER_FULL and disconnects sockets beyond MAX_CONNECTIONS", async () => {
    for (let i = 0; i < 4; i++) await connect();
    const extra = new SignalingClient(sfu.server.url);
    try {
      const error = await extra.waitForEvent("error");
      expect(error.code).to.equal("SERVER_FULL");
      await waitFor(() => !extra.socket.connected, 5000, "disconnect");
      expect(extra.socket.active, "no automatic retry after a server-side disconnect").to.equal(false);
    } finally {
      extra.close();
    }
  });

  it("answers an event without an ack through the error event, naming the event", async () => {
    const client = await connect();
    client.socket.emit("leave", { roomId: "r" });
    const error = await client.waitForEvent("error");
    expect(error).to.deep.equal({
      code: "NOT_JOINED",
      message: "this socket has not joined a room",
      event: "leave",
    });
  });

  it("refuses malformed SDP and candidates without disturbing the session", async () => {
    const client = await sfu.join("m", "m");
    try {
      const badSdp = await client.signaling.request("offer", {
        type: "offer",
        sdp: "v=0\r\nm=audio x UDP 111\r\n",
      });
      expect(badSdp.ok).to.equal(false);
      if (!badSdp.ok) expect(badSdp.error.code).to.equal("BAD_REQUEST");
      const badPort = await client.signaling.request("ice-candidate", {
        candidate: "candidate:1 1 udp 2122260223 127.0.0.1 port typ host",
        sdpMid: "0",
      });
      expect(badPort.ok).to.equal(false);
      if (!badPort.ok) expect(badPort.error.message).to.include("port");
      const stray = await client.signaling.request("answer", {
        type: "answer",
        sdp: client.pc.localDescription!.sdp,
      });
      expect(stray.ok).to.equal(false);
      expect(client.pc.connectionState).to.be.oneOf(["connecting", "connected"]);
      await client.offer();
      expect(sfu.server.application.sfu.peerCount).to.equal(1);
    } finally {
      await client.close();
    }
  });

  it("answers RATE_LIMITED to a socket flooding events", async () => {
    const client = await connect();
    const acks = await Promise.all(
      Array.from({ length: 200 }, () => client.request("leave", { roomId: "r" })),
    );
    const codes = new Set(acks.map((a) => (a.ok ? "ok" : a.error.code)));
    expect(codes).to.include("RATE_LIMITED");
    expect(codes).to.include("NOT_JOINED");
  });
});
