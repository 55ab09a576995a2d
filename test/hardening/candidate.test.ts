import { expect } from "chai";
import { isPrivateAddress, parseCandidate } from "../../lib/sfu/candidate.js";

describe("private-candidate filter", () => {
  it("treats every spelling of loopback, private, link-local and mapped addresses as private", () => {
    const privateAddresses = [
      "127.0.0.1",
      "10.1.2.3",
      "172.31.255.255",
      "192.168.0.10",
      "100.64.0.1",
      "169.254.1.1",
      "0.0.0.0",
      "224.0.0.251",
      "255.255.255.255",
      "198.18.0.1",
      "::1",
      "0:0:0:0:0:0:0:1",
      "0000::1",
      "::",
      "::ffff:127.0.0.1",
      "::ffff:7f00:1",
      "0:0:0:0:0:ffff:7f00:1",
      "::ffff:a00:1",
      "::ffff:c0a8:101",
      "::127.0.0.1",
      "fe80::1",
      "FE80::1",
      "fe80::1%eth0",
      "fd00::1",
      "fec0::1",
      "ff02::1",
      "host-1.local",
      // Private IPv4 behind the well-known NAT64 prefix, in both spellings.
      "64:ff9b::10.0.0.1",
      "64:ff9b::a00:1",
      "64:FF9B:0:0:0:0:C0A8:101",
      "64:ff9b::7f00:1",
      "64:ff9b::1",
    ];
    for (const address of privateAddresses) expect(isPrivateAddress(address), address).to.equal(true);
  });

  it("lets public addresses through", () => {
    for (const address of [
      "8.8.8.8",
      "1.1.1.1",
      "203.0.113.9",
      "2001:4860:4860::8888",
      "::ffff:808:808",
      "64:ff9b::8.8.8.8",
      "64:ff9b::808:808",
    ]) {
      expect(isPrivateAddress(address), address).to.equal(false);
    }
  });

  it("parses a browser candidate and refuses malformed ones with BAD_REQUEST", () => {
    expect(
      parseCandidate(
        "candidate:842163049 1 udp 1677729535 203.0.113.9 46154 typ srflx raddr 0.0.0.0 rport 0",
      ),
    ).to.include({ address: "203.0.113.9", port: 46154, type: "srflx", transport: "udp" });
    const bad = [
      "",
      "candidate:",
      "candidate:1 1 udp 1 203.0.113.9 port typ host",
      "candidate:1 1 udp 1 203.0.113.9 70000 typ host",
      "candidate:1 1 sctp 1 203.0.113.9 1 typ host",
      "candidate:1 1 udp 1 not-an-ip 1 typ host",
      "candidate:1 1 udp 1 203.0.113.9 1 typ bogus",
      "candidate:1 1 udp 1 203.0.113.9 1 host",
      "candidate:1 1 udp 99999999999 203.0.113.9 1 typ host",
      "candidate:1 1 udp 1 203.0.113.9 1 typ host generation",
      "candidate:1 0 udp 1 203.0.113.9 1 typ host",
      "candidate:ä 1 udp 1 203.0.113.9 1 typ host",
    ];
    for (const line of bad) {
      expect(() => parseCandidate(line), JSON.stringify(line))
        .to.throw()
        .with.property("code", "BAD_REQUEST");
    }
  });
});
