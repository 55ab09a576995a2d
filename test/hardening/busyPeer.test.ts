import { expect } from "chai";
import { useSfu } from "../helpers/fixture.js";
import { waitFor } from "../helpers/wait.js";

/** How long the client answers no connectivity check: beyond werift's own 1.55 s per check. */
const DEAF_MS = 3_000;

describe("a peer on a busy machine", function () {
  this.timeout(30_000);
  const sfu = useSfu({ ICE_TIMEOUT_MS: "15000" });

  it(`still connects when it answers none of the SFU's ICE checks for ${DEAF_MS / 1000} s, and is heard`, async () => {
    const alice = await sfu.join("busy", "alice");
    alice.startSending();
    let deafUntil = 0;
    // As a client whose event loop is stuck: the SFU's checks get no response until it is free again.
    const bob = await sfu.join("busy", "bob", {
      config: { iceFilterStunResponse: () => Date.now() >= deafUntil },
      negotiate: false,
    });
    deafUntil = Date.now() + DEAF_MS;
    await bob.offer();
    bob.startSending();

    await waitFor(() => Date.now() >= deafUntil, DEAF_MS + 1_000, "the deaf period");
    expect(bob.pc.connectionState, "bob while deaf").to.not.equal("connected");
    await waitFor(() => bob.pc.connectionState === "connected", 20_000, "bob connected");
    await bob.waitForPackets(alice.peerId);
    await alice.waitForPackets(bob.peerId);
  });
});
