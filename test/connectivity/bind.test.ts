import { readFileSync } from "node:fs";
import { expect } from "chai";
import { useSfu } from "../helpers/fixture.js";
import { SignalingClient } from "../helpers/SignalingClient.js";
import { sleep } from "../helpers/wait.js";

/** UDP sockets of this process's kernel table bound to `port`, as "address:port" (IPv4, /proc/net/udp). */
function udpSocketsOn(port: number): string[] {
  return readFileSync("/proc/net/udp", "utf8")
    .split("\n")
    .slice(1)
    .map((line) => line.trim().split(/\s+/)[1])
    .filter(
      (local): local is string => local !== undefined && parseInt(local.split(":")[1] ?? "", 16) === port,
    )
    .map((local) => {
      const [hex, portHex] = local.split(":") as [string, string];
      const bytes = hex
        .match(/../g)!
        .map((b) => parseInt(b, 16))
        .reverse();
      return `${bytes.join(".")}:${parseInt(portHex, 16)}`;
    });
}

/** The port of the SFU's host candidate in its answer. */
function candidatePort(sdp: string): number {
  const match = /a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 (\d+) typ host/.exec(sdp);
  if (!match) throw new Error(`no host candidate in:\n${sdp}`);
  return Number(match[1]);
}

describe("ICE_BIND_ADDRESS: media sockets bound to one address, candidates advertising ICE_ADVERTISE_IP", function () {
  this.timeout(30_000);

  describe("bound to an IP address", () => {
    const sfu = useSfu({ ICE_BIND_ADDRESS: "127.0.0.1" });

    it("binds the media socket to that address (not the wildcard) and carries audio", async () => {
      const alice = await sfu.join("bind", "alice");
      const bob = await sfu.join("bind", "bob");
      alice.startSending();
      await bob.waitForPackets(alice.peerId, 25);
      expect(bob.stats(alice.peerId)!.corrupt).to.equal(0);
      const answer = bob.signaling.events("answer").at(-1)!;
      const port = candidatePort(answer.sdp);
      expect(udpSocketsOn(port)).to.deep.equal([`127.0.0.1:${port}`]);
    });
  });

  describe("bound to a host name", () => {
    const sfu = useSfu({ ICE_BIND_ADDRESS: "localhost" });

    it("resolves the name for the bind and still advertises ICE_ADVERTISE_IP", async () => {
      const alice = await sfu.join("bind-name", "alice");
      const bob = await sfu.join("bind-name", "bob");
      bob.startSending();
      await alice.waitForPackets(bob.peerId, 25);
      const port = candidatePort(alice.signaling.events("answer").at(-1)!.sdp);
      expect(udpSocketsOn(port)).to.deep.equal([`127.0.0.1:${port}`]);
    });
  });
});

describe("TURN credentials on a resumed join", function () {
  this.timeout(30_000);
  // No TURN server is contacted: without ICE_RELAY_ONLY the SFU only hands the credentials on.
  const sfu = useSfu({
    TURN_URLS: "turn:127.0.0.1:9?transport=udp",
    TURN_SECRET: "s3cret",
    RECONNECT_GRACE_MS: "5000",
  });

  it("mints fresh credentials for the resumed session too", async () => {
    const alice = await sfu.join("resume-creds", "alice");
    const first = alice.joined!;
    alice.signaling.socket.disconnect();
    await sleep(1100);
    const again = new SignalingClient(sfu.server.url);
    try {
      await again.connected();
      const resumed = await again.join({
        roomId: "resume-creds",
        userId: "alice",
        resumeToken: first.resumeToken,
      });
      expect(resumed.resumed).to.equal(true);
      expect(resumed.peerId).to.equal(first.peerId);
      const [firstTurn, resumedTurn] = [first.iceServers[0]!, resumed.iceServers[0]!];
      expect(resumedTurn.urls).to.deep.equal(["turn:127.0.0.1:9?transport=udp"]);
      const expiry = (username: string | undefined) => Number(username?.split(":")[0]);
      expect(expiry(resumedTurn.username), "a later expiry").to.be.greaterThan(expiry(firstTurn.username));
      expect(resumedTurn.username).to.match(new RegExp(`:${first.peerId}$`));
      expect(resumedTurn.credential).to.not.equal(firstTurn.credential);
      expect(resumed).to.not.have.property("iceTransportPolicy");
    } finally {
      again.close();
    }
  });
});
