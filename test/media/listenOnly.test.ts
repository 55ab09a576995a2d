import { expect } from "chai";
import { SignJWT } from "jose";
import request from "supertest";
import type { MediaClient } from "../helpers/MediaClient.js";
import { useSfu, type SfuFixture } from "../helpers/fixture.js";
import { sleep } from "../helpers/wait.js";

const SECRET = "listen-only-secret-for-tests-0123456789";
const ADMIN = "admin-s3cret";

/** A valid join token for `userId` in any room, with `claims` added. */
function token(userId: string, claims: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT({ room: "*", sub: userId, ...claims })
    .setProtectedHeader({ alg: "HS256" })
    .setExpirationTime(Math.floor(Date.now() / 1000) + 300)
    .sign(new TextEncoder().encode(SECRET));
}

/** RTP packets the client's own microphone sender put on the wire. */
async function packetsSent(client: MediaClient): Promise<number> {
  const stats = await client.pc.getStats();
  let sent = 0;
  for (const entry of stats.values()) {
    const report = entry as { type: string; packetsSent?: number };
    if (report.type === "outbound-rtp") sent += report.packetsSent ?? 0;
  }
  return sent;
}

/** The direction the SFU answered the client's first (microphone) m-section with. */
function micAnswerDirection(client: MediaClient): string | undefined {
  const answer = client.signaling.events("answer")[0]!;
  const firstSection = answer.sdp.split(/\r?\n(?=m=)/)[1]!;
  return /a=(sendrecv|sendonly|recvonly|inactive)/.exec(firstSection)?.[1];
}

async function peerRows(
  sfu: SfuFixture,
): Promise<Array<{ userId: string; canPublish: boolean; published: number }>> {
  const res = await request(sfu.server.url)
    .get("/debug/peers")
    .set("Authorization", `Bearer ${ADMIN}`)
    .expect(200);
  return (res.body as { peers: Array<{ userId: string; canPublish: boolean; published: number }> }).peers;
}

/**
 * Sends and counts long enough for a forwarded packet to show: the others
 * keep receiving each other meanwhile, so a listener's packets had every chance.
 */
async function exchange(speakers: MediaClient[], listener: MediaClient): Promise<void> {
  for (const speaker of speakers) {
    for (const other of speakers) if (other !== speaker) await other.waitForPackets(speaker.peerId, 25);
    await listener.waitForPackets(speaker.peerId, 25);
  }
  await sleep(300);
}

describe("listen-only participants (PROTOCOL §15)", function () {
  this.timeout(60_000);

  for (const workers of ["0", "1"]) {
    describe(`with join tokens (SFU_WORKERS=${workers})`, () => {
      const sfu = useSfu({ JOIN_TOKEN_SECRET: SECRET, ADMIN_TOKEN: ADMIN, SFU_WORKERS: workers });

      it("a canPublish:false token hears everyone, but its audio reaches no one even though it sends", async () => {
        const alice = await sfu.join("audience", "alice", { token: await token("alice") });
        const bob = await sfu.join("audience", "bob", { token: await token("bob", { canPublish: true }) });
        const lee = await sfu.join("audience", "lee", { token: await token("lee", { canPublish: false }) });
        for (const client of [alice, bob, lee]) client.startSending();

        await exchange([alice, bob], lee);
        expect(await packetsSent(lee), "the listener's client did send").to.be.greaterThan(10);
        expect(micAnswerDirection(lee)).to.equal("inactive");
        expect(micAnswerDirection(alice)).to.equal("recvonly");
        for (const other of [alice, bob]) {
          expect(other.packetsFrom(lee.peerId), `${other.options.userId} got the listener's audio`).to.equal(
            0,
          );
          expect(other.trackStreams, "no track for the listener").to.not.include(lee.peerId);
          for (const offer of other.signaling.events("offer")) expect(offer.sdp).to.not.include(lee.peerId);
        }
        expect(lee.trackStreams).to.have.members([alice.peerId, bob.peerId]);
        expect(lee.stats(alice.peerId)!.corrupt).to.equal(0);

        const rows = await peerRows(sfu);
        const byUser = Object.fromEntries(rows.map((row) => [row.userId, row]));
        expect(byUser.lee).to.include({ canPublish: false, published: 0 });
        expect(byUser.alice).to.include({ canPublish: true, published: 1 });
        expect(byUser.bob).to.include({ canPublish: true, published: 1 });
      });

      it("refuses a canPublish claim that is not a boolean", async () => {
        let error: unknown;
        try {
          await sfu.join("audience", "zed", { token: await token("zed", { canPublish: "no" }) });
        } catch (caught) {
          error = caught;
        }
        expect(String(error)).to.match(/UNAUTHORIZED/);
      });
    });
  }

  describe("with DEFAULT_CAN_PUBLISH=false", () => {
    const sfu = useSfu({ DEFAULT_CAN_PUBLISH: "false", JOIN_TOKEN_SECRET: SECRET, ADMIN_TOKEN: ADMIN });

    it("makes a token without the claim listen-only; a canPublish:true claim speaks", async () => {
      const host = await sfu.join("stage", "host", { token: await token("host", { canPublish: true }) });
      const guest = await sfu.join("stage", "guest", { token: await token("guest") });
      host.startSending();
      guest.startSending();
      await guest.waitForPackets(host.peerId, 25);
      await sleep(500);
      expect(host.packetsFrom(guest.peerId)).to.equal(0);
      expect(host.trackStreams).to.deep.equal([]);
      const rows = await peerRows(sfu);
      expect(rows.find((row) => row.userId === "guest")).to.include({ canPublish: false });
    });
  });

  describe("with DEFAULT_CAN_PUBLISH=false and tokens off", () => {
    const sfu = useSfu({ DEFAULT_CAN_PUBLISH: "false" });

    it("makes everyone listen-only: nobody's audio is forwarded", async () => {
      const alice = await sfu.join("quiet", "alice");
      const bob = await sfu.join("quiet", "bob");
      alice.startSending();
      bob.startSending();
      await sleep(1500);
      expect(await packetsSent(alice)).to.be.greaterThan(10);
      expect(alice.packetsFrom(bob.peerId)).to.equal(0);
      expect(bob.packetsFrom(alice.peerId)).to.equal(0);
      expect(alice.trackStreams).to.deep.equal([]);
      expect(bob.trackStreams).to.deep.equal([]);
    });
  });
});
