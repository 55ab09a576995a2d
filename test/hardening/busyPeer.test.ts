import { Writable } from "node:stream";
import { expect } from "chai";
import winston from "winston";
import { useSfu } from "../helpers/fixture.js";
import { waitFor } from "../helpers/wait.js";

/** How long the client answers no connectivity check: beyond werift's own 1.55 s per check. */
const DEAF_MS = 3_000;

describe("a peer on a busy machine", function () {
  this.timeout(30_000);
  const states: Array<{ peerId?: unknown; state?: unknown }> = [];
  const logger = winston.createLogger({
    level: "debug",
    format: winston.format.json(),
    transports: [
      new winston.transports.Stream({
        stream: new Writable({
          write(chunk: Buffer, _encoding, done) {
            const line = JSON.parse(chunk.toString()) as Record<string, unknown>;
            if (line.message === "connection state") states.push({ peerId: line.peerId, state: line.state });
            done();
          },
        }),
      }),
    ],
  });
  const sfu = useSfu({ ICE_TIMEOUT_MS: "15000" }, { logger });

  it(`connects a client that answers none of the SFU's ICE checks for ${DEAF_MS / 1000} s, without the SFU's side ever failing`, async () => {
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
    // werift alone gives a pair up after 1.55 s: the SFU's connection to bob would fail, then recover late.
    const bobs = states.filter((s) => s.peerId === bob.peerId).map((s) => s.state);
    expect(bobs, "the SFU's connection states for bob").to.include("connected").and.not.include("failed");
  });
});
