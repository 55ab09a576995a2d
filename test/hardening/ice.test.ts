import { promises as dns } from "node:dns";
import { isIP } from "node:net";
import { networkInterfaces } from "node:os";
import { expect } from "chai";
import type { IceCandidate } from "../../lib/protocol.js";
import { checkSdp } from "../../lib/sfu/sdp.js";
import { useSfu } from "../helpers/fixture.js";
import type { TestServer } from "../helpers/server.js";
import { SignalingClient } from "../helpers/SignalingClient.js";
import { sleep, waitFor } from "../helpers/wait.js";
import { closedOffer } from "../helpers/loopbackPeer.js";

/** A werift offer whose connection is closed at once: enough for the SFU to answer and gather. */
async function offerSdp(): Promise<string> {
  return closedOffer((pc) => pc.addTransceiver("audio", { direction: "sendrecv" }), {
    config: { bundlePolicy: "max-compat" },
  });
}

/** Joins, offers, and returns the addresses in the SFU's answer and trickled candidates. */
async function sfuCandidateAddresses(server: TestServer, offer?: string): Promise<string[]> {
  const client = new SignalingClient(server.url);
  try {
    await client.connected();
    await client.join({ roomId: "ice", userId: "u" });
    const ack = await client.request("offer", { type: "offer", sdp: offer ?? (await offerSdp()) });
    expect(ack.ok).to.equal(true);
    const answer = await client.waitForEvent("answer");
    await sleep(1_000);
    const lines = [
      ...answer.sdp.split("\r\n").filter((l) => l.startsWith("a=candidate:")),
      ...client.events("ice-candidate").map((c: IceCandidate) => c.candidate),
    ];
    return [...new Set(lines.map((l) => l.split(" ")[4]!).filter((a) => a !== undefined))];
  } finally {
    client.close();
  }
}

const SDP_LIMITS = { maxBytes: 60_000, maxMediaSections: 16 };

/** The IPv6 addresses a host candidate can be gathered on: not loopback, not link-local (werift skips both). */
function gatherableIpv6(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((i) => i !== undefined && i.family === "IPv6" && !i.internal && !i.address.startsWith("fe80:"))
    .map((i) => i!.address);
}

describe("ICE candidates the SFU gathers and accepts", function () {
  this.timeout(30_000);
  const sfu = useSfu();

  it("gathers IPv4 host candidates only, unless ICE_USE_IPV6 is set", async function () {
    const results: Record<string, string[]> = {};
    for (const ipv6 of ["false", "true"]) {
      const server = await sfu.restart({ ICE_ADVERTISE_IP: "", ICE_USE_IPV6: ipv6 });
      results[ipv6] = await sfuCandidateAddresses(server);
    }
    console.log(
      `      default: ${results.false!.join(", ")}; ICE_USE_IPV6=true: ${results.true!.join(", ")}`,
    );
    expect(results.false).to.not.be.empty;
    expect(
      results.false!.every((a) => isIP(a) === 4),
      "IPv4 only by default",
    ).to.equal(true);
    expect(results.true!.filter((a) => isIP(a) === 4)).to.have.members(results.false!);
    const ipv6 = gatherableIpv6();
    // The IPv4 half ran; the IPv6 half needs an address to gather, which some CI containers lack.
    if (ipv6.length === 0) {
      console.log("      IPv6 half skipped: no IPv6 address here other than loopback and link-local");
      this.skip();
    }
    expect(
      results.true!.filter((a) => isIP(a) === 6),
      "ICE_USE_IPV6=true gathers this machine's IPv6 addresses",
    ).to.have.members(ipv6);
  });

  it("asks no STUN server when STUN_SERVERS is empty (werift's default is Google's), and the configured one otherwise", async () => {
    // The client's offer is made first: werift clients query Google's STUN server too.
    const offer = await offerSdp();
    const lookup = dns.lookup;
    const looked: string[] = [];
    // werift resolves the STUN host through dns.promises.lookup at the moment it gathers.
    dns.lookup = ((host: string) => {
      looked.push(host);
      return Promise.reject(Object.assign(new Error(`no DNS in tests: ${host}`), { code: "ENOTFOUND" }));
    }) as typeof dns.lookup;
    try {
      for (const stun of ["", "stun:stun.configured.example:3478"]) {
        await sfuCandidateAddresses(await sfu.restart({ STUN_SERVERS: stun }), offer);
      }
    } finally {
      dns.lookup = lookup;
    }
    expect(looked).to.not.include("stun.l.google.com");
    expect(looked).to.include("stun.configured.example");
  });

  it("drops private candidates from a client's SDP unless ALLOW_PRIVATE_CANDIDATES", async () => {
    const sdp = (await offerSdp())
      .split("\r\n")
      .filter((l) => !l.startsWith("a=candidate:"))
      .flatMap((l) =>
        l.startsWith("a=mid:")
          ? [
              l,
              "a=candidate:1 1 udp 2130706431 10.1.2.3 5000 typ host",
              "a=candidate:2 1 udp 2130706431 ::ffff:7f00:1 5001 typ host",
              "a=candidate:3 1 udp 2130706431 host-1.local 5002 typ host",
              "a=candidate:4 1 udp 1694498815 203.0.113.9 5003 typ srflx raddr 0.0.0.0 rport 0",
            ]
          : [l],
      )
      .join("\r\n");
    const kept = (drop: boolean) =>
      checkSdp("offer", sdp, { limits: SDP_LIMITS, dropPrivateCandidates: drop })
        .sdp.split("\r\n")
        .filter((l) => l.startsWith("a=candidate:"))
        .map((l) => l.split(" ")[4]);
    expect(kept(true)).to.deep.equal(["203.0.113.9"]);
    expect(kept(false)).to.deep.equal(["10.1.2.3", "::ffff:7f00:1", "host-1.local", "203.0.113.9"]);
  });

  it("caps an ICE generation at 256 trickled candidates, counting the private ones it ignores", async () => {
    const server = await sfu.restart({ ALLOW_PRIVATE_CANDIDATES: "false", EVENT_RATE_LIMIT: "100000" });
    const client = await sfu.connect();
    await client.join({ roomId: "ice", userId: "u" });
    expect((await client.request("offer", { type: "offer", sdp: await offerSdp() })).ok).to.equal(true);
    const candidate = (n: number, ip: string) => ({
      candidate: `candidate:${n} 1 udp 2130706431 ${ip} ${10_000 + n} typ host`,
      sdpMid: "0",
      sdpMLineIndex: 0,
    });
    expect(await client.request("ice-candidate", candidate(0, "192.168.1.20"))).to.deep.equal({ ok: true });
    const codes: string[] = [];
    for (let n = 1; n <= 256; n++) {
      const ack = await client.request("ice-candidate", candidate(n, `203.0.113.${n % 250}`));
      codes.push(ack.ok ? "ok" : ack.error.code);
    }
    // The private one counted towards the cap too: the 256th candidate of the session is the last accepted.
    expect(codes.slice(0, 255).every((c) => c === "ok")).to.equal(true);
    expect(codes[255]).to.equal("RATE_LIMITED");
    await waitFor(() => server.application.sfu.peerCount === 1);
  });

  it("counts candidates per ICE generation: after an ICE restart the client may trickle 256 again", async () => {
    const server = await sfu.restart({ EVENT_RATE_LIMIT: "100000" });
    const client = await sfu.join("ice", "u");
    // Its own restart candidates may reach the SFU before the restart offer, while the old generation is capped.
    client.tolerate = /^candidate refused: RATE_LIMITED /;
    const trickle = async (generation: number, count: number) => {
      const codes: string[] = [];
      for (let n = 0; n < count; n++) {
        const ack = await client.signaling.request("ice-candidate", {
          candidate: `candidate:${generation}${n} 1 udp 2130706431 203.0.113.${n % 250} ${10_000 + n} typ host`,
        });
        codes.push(ack.ok ? "ok" : ack.error.code);
      }
      return codes;
    };
    const first = await trickle(1, 257);
    expect(first.at(-1), "the first generation is capped").to.equal("RATE_LIMITED");
    await client.offer({ iceRestart: true });
    const second = await trickle(2, 250);
    expect(
      second.filter((c) => c !== "ok"),
      "the new generation is not",
    ).to.deep.equal([]);
    expect(server.application.sfu.peerCount).to.equal(1);
  });
});
