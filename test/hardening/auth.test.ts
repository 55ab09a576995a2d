import { expect } from "chai";
import { SignJWT } from "jose";
import request from "supertest";
import { SFU_NAMESPACE, type AckResult, type JoinedMessage } from "../../lib/protocol.js";
import { JoinAuthorizer } from "../../server/signaling/auth.js";
import { MediaClient } from "../helpers/MediaClient.js";
import { useSfu } from "../helpers/fixture.js";
import { TEST_ENV } from "../helpers/server.js";
import { waitFor } from "../helpers/wait.js";

const SECRET = "join-token-secret-for-tests-0123456789";
const ADMIN = "admin-s3cret";
const key = new TextEncoder().encode(SECRET);
const GRACE_MS = Number(TEST_ENV.RECONNECT_GRACE_MS);

/** A join token; `claims` and `options` override the valid defaults. */
async function token(
  room: unknown,
  sub: unknown,
  options: { exp?: number | null; nbf?: number; alg?: string; secret?: Uint8Array } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ room: room as string, sub: sub as string })
    .setProtectedHeader({ alg: options.alg ?? "HS256" })
    .setIssuedAt(now);
  if (options.exp !== null) jwt.setExpirationTime(options.exp ?? now + 300);
  if (options.nbf !== undefined) jwt.setNotBefore(options.nbf);
  return jwt.sign(options.secret ?? key);
}

/** An unsigned token (`alg: none`) with valid-looking claims. */
function unsignedToken(room: string, sub: string): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "none", typ: "JWT" })}.${part({ room, sub, exp: Math.floor(Date.now() / 1000) + 300 })}.`;
}

describe("access control: join tokens and the admin bearer", function () {
  this.timeout(60_000);
  const sfu = useSfu({ JOIN_TOKEN_SECRET: SECRET, ADMIN_TOKEN: ADMIN });
  const connect = () => sfu.connect();
  /** Clients made without joining, which the fixture does not hold. */
  const media: MediaClient[] = [];

  async function roomIds(): Promise<string[]> {
    const res = await request(sfu.server.url)
      .get("/debug/rooms")
      .set("Authorization", `Bearer ${ADMIN}`)
      .expect(200);
    return (res.body as { rooms: Array<{ roomId: string }> }).rooms.map((r) => r.roomId);
  }

  afterEach(async () => {
    await Promise.all(media.splice(0).map((c) => c.close()));
  });

  it("admits only a valid, unexpired HS256 token for this room (or '*') and this user; refused joins create nothing", async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases: Array<
      [string, (room: string) => Promise<string | undefined> | string | undefined, boolean]
    > = [
      ["missing", () => undefined, false],
      ["empty", () => "", false],
      ["garbage", () => "not.a.jwt", false],
      ["huge", () => "x".repeat(4097), false],
      ["expired", (room) => token(room, "u1", { exp: now - 60 }), false],
      ["not yet valid", (room) => token(room, "u1", { nbf: now + 600 }), false],
      ["without exp", (room) => token(room, "u1", { exp: null }), false],
      ["wrong room", () => token("another-room", "u1"), false],
      ["wrong user", (room) => token(room, "someone-else"), false],
      ["room as a list", (room) => token([room], "u1"), false],
      ["sub as a number", (room) => token(room, 1), false],
      [
        "bad signature",
        (room) => token(room, "u1", { secret: new TextEncoder().encode("not-the-secret") }),
        false,
      ],
      ["HS512 with the secret", (room) => token(room, "u1", { alg: "HS512" }), false],
      ["alg none", (room) => unsignedToken(room, "u1"), false],
      ["room '*'", () => token("*", "u1"), true],
      ["valid", (room) => token(room, "u1"), true],
    ];
    const outcomes: string[] = [];
    let unauthorizedJoins = 0;
    for (const [name, make, admitted] of cases) {
      const roomId = `auth-${name.replace(/[^a-z0-9]+/gi, "-")}`;
      const client = await connect();
      const jwt = await make(roomId);
      const ack = await client.request("join", {
        roomId,
        userId: "u1",
        ...(jwt !== undefined && { token: jwt }),
      });
      outcomes.push(`${name}: ${ack.ok ? "admitted" : ack.error.code}`);
      if (admitted) {
        expect(ack.ok, name).to.equal(true);
        continue;
      }
      if (ack.ok) unauthorizedJoins++;
      // An oversized token fails validation before it is checked; an empty one counts as none.
      else expect(ack.error.code, name).to.equal(name === "huge" ? "BAD_REQUEST" : "UNAUTHORIZED");
      expect(await roomIds(), `${name} created a room`).to.not.include(roomId);
      client.close();
    }
    console.log(`      ${outcomes.join("; ")}`);
    expect(unauthorizedJoins, "unauthorized joins").to.equal(0);
  });

  it("tells a client why its token was refused: missing, lacking exp, expired", async () => {
    const now = Math.floor(Date.now() / 1000);
    const client = await connect();
    const cases: Array<[string | undefined, string]> = [
      [undefined, "a join token is required"],
      ["", "a join token is required"],
      [await token("r", "u1", { exp: null }), "the join token lacks an `exp` claim; join tokens must expire"],
      [await token("r", "u1", { exp: now - 60 }), "the join token has expired"],
      ["not.a.jwt", "the join token is invalid"],
    ];
    for (const [jwt, message] of cases) {
      const ack = await client.request("join", { roomId: "r", userId: "u1", token: jwt });
      expect(ack, String(jwt)).to.deep.equal({ ok: false, error: { code: "UNAUTHORIZED", message } });
    }
  });

  it("does not let a resumeToken stand in for the join token", async () => {
    const roomId = "auth-resume";
    const alice = new MediaClient(sfu.server.url, { roomId, userId: "alice" });
    media.push(alice);
    await alice.signaling.connected();
    const aliceToken = await token(roomId, "alice");
    const joined = await alice.signaling.join({ roomId, userId: "alice", token: aliceToken });
    // Alice's socket drops; her session waits for a resume.
    alice.signaling.socket.io.engine.close();
    await waitFor(() =>
      sfu.server.service.peerSnapshots().some((p) => p.peerId === joined.peerId && p.detached),
    );

    const attempts: Array<[string, Record<string, unknown>]> = [
      ["no token", {}],
      ["expired token", { token: await token(roomId, "alice", { exp: Math.floor(Date.now() / 1000) - 5 }) }],
      ["another user's token", { token: await token(roomId, "mallory") }],
      ["a token for another room", { token: await token("elsewhere", "alice") }],
    ];
    for (const [name, extra] of attempts) {
      const thief = await connect();
      const ack = await thief.request("join", {
        roomId,
        userId: "alice",
        resumeToken: joined.resumeToken,
        ...extra,
      });
      expect(ack, name).to.deep.include({ ok: false });
      if (!ack.ok) expect(ack.error.code, name).to.equal("UNAUTHORIZED");
    }
    // Mallory's own valid token with alice's resumeToken is a new session of mallory's, not alice's.
    const mallory = await connect();
    const malloryAck = (await mallory.request("join", {
      roomId,
      userId: "mallory",
      token: await token(roomId, "mallory"),
      resumeToken: joined.resumeToken,
    })) as AckResult<{ joined: JoinedMessage }>;
    expect(malloryAck.ok).to.equal(true);
    if (malloryAck.ok) {
      expect(malloryAck.joined.resumed).to.equal(false);
      expect(malloryAck.joined.peerId).to.not.equal(joined.peerId);
    }
    // The session is still alice's to resume, with her token.
    const back = await connect();
    const resumed = await back.join({
      roomId,
      userId: "alice",
      token: aliceToken,
      resumeToken: joined.resumeToken,
    });
    expect(resumed).to.include({ peerId: joined.peerId, resumed: true });
  });

  it("a resume whose socket drops while its token is checked leaves the session to end with its grace period", async () => {
    const roomId = "auth-resume-drop";
    const aliceToken = await token(roomId, "alice");
    const alice = await connect();
    const joined = await alice.join({ roomId, userId: "alice", token: aliceToken });
    alice.socket.io.engine.close();
    const detachedAt = await waitFor(() =>
      sfu.server.service.peerSnapshots().some((p) => p.peerId === joined.peerId && p.detached)
        ? performance.now()
        : undefined,
    );

    // The resume's token check is held until its socket is gone.
    // eslint-disable-next-line @typescript-eslint/unbound-method -- put back below, and called with the instance as `this`
    const authorize = JoinAuthorizer.prototype.authorize;
    let release = () => {};
    const held = new Promise<void>((resolve) => (release = resolve));
    let checking = false;
    JoinAuthorizer.prototype.authorize = async function (request) {
      checking = true;
      await held;
      return authorize.call(this, request);
    };
    try {
      const back = await connect();
      const socketId = back.socket.id!;
      back.socket.emit("join", {
        roomId,
        userId: "alice",
        token: aliceToken,
        resumeToken: joined.resumeToken,
      });
      await waitFor(() => checking, 5_000, "the token check to begin");
      back.close();
      await waitFor(
        () => !sfu.server.application.io.of(SFU_NAMESPACE).sockets.has(socketId),
        5_000,
        "the disconnect",
      );
    } finally {
      JoinAuthorizer.prototype.authorize = authorize;
      release();
    }

    const gone = await waitFor(
      () =>
        sfu.server.service.peerSnapshots().some((p) => p.peerId === joined.peerId)
          ? undefined
          : performance.now(),
      GRACE_MS + 3_000,
      "the session to end",
    ).catch(() => undefined);
    expect(gone, "the session ended").to.be.a("number");
    expect(gone! - detachedAt, "ms from detach to the end").to.be.below(GRACE_MS + 1_000);
  });

  it("answers 401 on every admin route without the bearer, 200 with it in any letter case of the scheme; /health stays open", async () => {
    const holder = await connect();
    await holder.join({ roomId: "auth-admin", userId: "u1", token: await token("auth-admin", "u1") });
    const routes = ["/debug/rooms", "/debug/rooms/auth-admin", "/debug/peers", "/debug/tracks", "/metrics"];
    const variants = [
      "/DEBUG/rooms",
      "/debug/rooms/",
      "/Debug/Peers",
      "/metrics/",
      "/METRICS",
      "/metrics?format=json",
    ];
    const badHeaders = [
      undefined,
      "Bearer",
      `Bearer ${ADMIN}x`,
      `Bearer ${ADMIN.toUpperCase()}`,
      `Basic ${ADMIN}`,
      ADMIN,
      `Bearer  ${ADMIN}`,
      `Bearer${ADMIN}`,
    ];
    for (const path of [...routes, ...variants]) {
      for (const header of badHeaders) {
        const req = request(sfu.server.url).get(path);
        const res = await (header === undefined ? req : req.set("Authorization", header));
        expect([401, 404], `${path} with ${header ?? "no header"}`).to.include(res.status);
        if (routes.includes(path)) expect(res.status, `${path} with ${header ?? "no header"}`).to.equal(401);
      }
    }
    for (const path of routes) {
      for (const scheme of ["Bearer", "bearer", "BEARER"]) {
        await request(sfu.server.url).get(path).set("Authorization", `${scheme} ${ADMIN}`).expect(200);
      }
    }
    await request(sfu.server.url).get("/health").expect(200);
  });
});
