import { expect } from "chai";
import type { Socket } from "socket.io-client";
import { MediaStreamTrack, useAudioLevelIndication, useSdesMid } from "werift";
import { CLIENT_EVENTS, ERROR_CODES, type AckResult, type ClientEventName } from "../../lib/protocol.js";
import { useSfu } from "../helpers/fixture.js";
import type { MediaClient } from "../helpers/MediaClient.js";
import { SignalingClient } from "../helpers/SignalingClient.js";
import { sleep, waitFor } from "../helpers/wait.js";
import { fuzzCase, type FuzzCase, type FuzzSeeds } from "./fuzzPayloads.js";
import { GapTracker } from "./GapTracker.js";
import { Prng } from "./prng.js";
import { closedOffer } from "../helpers/loopbackPeer.js";

const SEED = 20_240_601;
const LANES = 4;
/** Per lane; the six events take turns, so each event gets LANES * ROUNDS_PER_LANE / 6 cases. */
const ROUNDS_PER_LANE = 3_100;
const ACK_LIMIT_MS = 2_000;
const MAX_SDP_BYTES = 30_000;
const CODE = /^[A-Z]+(?:_[A-Z]+)*$/;

interface Tally {
  sent: number;
  invalid: number;
  ok: number;
  codes: Record<string, number>;
  slowestMs: number;
}

/** An offer exactly as a werift client makes it: audio, BUNDLE, gathered loopback candidate. */
async function realOffer(): Promise<string> {
  return closedOffer(
    (pc) => pc.addTransceiver(new MediaStreamTrack({ kind: "audio" }), { direction: "sendrecv" }),
    {
      config: { headerExtensions: { audio: [useSdesMid(), useAudioLevelIndication()] } },
      waitForGathering: true,
    },
  );
}

/** One fuzzing socket: sends cases one after another and tracks whether it is in a room. */
class Lane {
  readonly client: SignalingClient;
  roomId: string | undefined;

  constructor(url: string) {
    this.client = new SignalingClient(url);
    // The SFU removed this socket's peer (negotiation failure, ICE timeout, replacement).
    this.client.socket.on("error", (error) => {
      if (["REPLACED", "KICKED", "NEGOTIATION_FAILED"].includes(error.code)) this.roomId = undefined;
    });
  }

  /** Sends one case; resolves with the ack and how long it took, or rejects after ACK_LIMIT_MS. */
  async send(event: ClientEventName, payload: unknown): Promise<{ ack: AckResult; ms: number }> {
    const socket = this.client.socket as unknown as Socket;
    const started = performance.now();
    const ack = (await socket.timeout(ACK_LIMIT_MS).emitWithAck(event, payload)) as AckResult;
    return { ack, ms: performance.now() - started };
  }
}

describe("signaling fuzz: malformed payloads for every client event", function () {
  this.timeout(240_000);
  const sfu = useSfu(
    {
      // Fuzz at full speed; RATE_LIMITED is tested on its own below.
      EVENT_RATE_LIMIT: "1000000",
      // A werift step that hangs must still be answered within the 2 s ack limit.
      NEGOTIATION_TIMEOUT_MS: "1500",
      ICE_TIMEOUT_MS: "4000",
      MAX_SDP_BYTES: String(MAX_SDP_BYTES),
      RECONNECT_GRACE_MS: "200",
    },
    { per: "suite" },
  );

  async function join(roomId: string, userId: string): Promise<MediaClient> {
    const client = await sfu.join(roomId, userId);
    client.startSending();
    return client;
  }

  it(`answers ${(LANES * ROUNDS_PER_LANE) / CLIENT_EVENTS.length}+ cases per event within 2 s, invalid ones with an UPPER_SNAKE error, while a live room keeps its audio`, async () => {
    const alice = await join("live", "alice");
    const bob = await join("live", "bob");
    await bob.waitForPackets(alice.peerId, 25);
    await alice.waitForPackets(bob.peerId, 25);
    const seeds: FuzzSeeds = { offer: await realOffer(), answer: bob.pc.localDescription!.sdp };
    expect(bob.pc.localDescription!.type).to.equal("answer");
    // A publisher in each lane's room, so that the SFU offers to fuzz peers and answers get exercised.
    for (let lane = 0; lane < LANES; lane++) await join(`fuzz-${lane}`, `publisher-${lane}`);

    const gaps = [new GapTracker(alice), new GapTracker(bob)];
    for (const gap of gaps) gap.reset();
    const tallies = Object.fromEntries(
      CLIENT_EVENTS.map((e): [string, Tally] => [e, { sent: 0, invalid: 0, ok: 0, codes: {}, slowestMs: 0 }]),
    ) as Record<ClientEventName, Tally>;
    const failures: string[] = [];
    const started = performance.now();

    await Promise.all(
      Array.from({ length: LANES }, async (_, index) => {
        const rng = new Prng(SEED + index);
        const lane = new Lane(sfu.server.url);
        await lane.client.connected();
        const record = (fuzz: FuzzCase, ack: AckResult, ms: number, before: string | undefined) => {
          const tally = tallies[fuzz.event];
          tally.sent++;
          tally.slowestMs = Math.max(tally.slowestMs, ms);
          if (fuzz.invalid) tally.invalid++;
          const where = `${fuzz.event}/${fuzz.shape} (lane ${index}, ${before ? "joined" : "not joined"})`;
          if (ack.ok) {
            tally.ok++;
            if (fuzz.invalid) failures.push(`${where}: an invalid payload was accepted`);
            return;
          }
          const { code, message } = ack.error;
          tally.codes[code] = (tally.codes[code] ?? 0) + 1;
          if (
            !CODE.test(code) ||
            !(ERROR_CODES as readonly string[]).includes(code) ||
            typeof message !== "string"
          ) {
            failures.push(`${where}: malformed error ${JSON.stringify(ack.error)}`);
          } else if (code === "INTERNAL") {
            failures.push(`${where}: INTERNAL`);
          } else if (fuzz.invalid && code !== "BAD_REQUEST") {
            failures.push(`${where}: ${code} for an invalid payload`);
          } else if (!fuzz.invalid && !before && fuzz.event !== "join" && code !== "NOT_JOINED") {
            // Before join and after leave, every well-formed media event or leave is NOT_JOINED.
            failures.push(`${where}: ${code} instead of NOT_JOINED (${message})`);
          }
        };
        const send = async (fuzz: FuzzCase) => {
          const before = lane.roomId;
          try {
            const { ack, ms } = await lane.send(fuzz.event, fuzz.payload);
            record(fuzz, ack, ms, before);
            if (fuzz.event === "join" && ack.ok) lane.roomId = (fuzz.payload as { roomId: string }).roomId;
            if (fuzz.event === "leave" && ack.ok) lane.roomId = undefined;
            // Leaving another room is NOT_JOINED too, without ending this one.
            const otherRoom =
              fuzz.event === "leave" && (fuzz.payload as { roomId?: unknown })?.roomId !== before;
            if (!ack.ok && ack.error.code === "NOT_JOINED" && !otherRoom) lane.roomId = undefined;
          } catch (error) {
            failures.push(`${fuzz.event}/${fuzz.shape} (lane ${index}): ${String(error)}`);
          }
        };

        for (let round = 0; round < ROUNDS_PER_LANE; round++) {
          // A dropped socket would only time out every later case: say why once and stop the lane.
          if (!lane.client.socket.connected) {
            failures.push(`lane ${index}: its socket was disconnected at round ${round}`);
            break;
          }
          // Spend time in every state: before any join, in the lane's own room (with a publisher), after leave.
          if (lane.roomId === undefined && rng.chance(0.08)) {
            await send({
              event: "join",
              payload: { roomId: `fuzz-${index}`, userId: `fuzzer-${index}` },
              invalid: false,
              shape: "lane-join",
            });
            if (lane.roomId !== undefined && rng.chance(0.7)) {
              await send({
                event: "offer",
                payload: { type: "offer", sdp: seeds.offer },
                invalid: false,
                shape: "lane-offer",
              });
            }
          }
          const event = CLIENT_EVENTS[round % CLIENT_EVENTS.length]!;
          await send(fuzzCase(rng, event, seeds, { roomId: lane.roomId, maxSdpBytes: MAX_SDP_BYTES }));
        }
        lane.client.close();
      }),
    );
    const fuzzMs = performance.now() - started;
    const [aliceGap, bobGap] = gaps.map((gap) => gap.finish());

    const summary = Object.entries(tallies)
      .map(
        ([event, t]) =>
          `${event}: ${t.sent} sent, ${t.invalid} invalid, ${t.ok} ok, ${JSON.stringify(t.codes)}, slowest ack ${t.slowestMs.toFixed(0)} ms`,
      )
      .join("\n        ");
    console.log(
      `      ${Object.values(tallies).reduce((n, t) => n + t.sent, 0)} cases in ${(fuzzMs / 1000).toFixed(1)} s (seed ${SEED})\n` +
        `        ${summary}\n` +
        `        live room's longest audio gap: alice ${aliceGap!.toFixed(0)} ms, bob ${bobGap!.toFixed(0)} ms`,
    );
    expect(failures.slice(0, 20), `${failures.length} failures`).to.deep.equal([]);
    for (const [event, tally] of Object.entries(tallies)) {
      expect(tally.sent, event).to.be.at.least(2_000);
      expect(tally.slowestMs, `${event} slowest ack`).to.be.below(ACK_LIMIT_MS);
    }
    expect(aliceGap, "live room gap alice <- bob").to.be.below(1_000);
    expect(bobGap, "live room gap bob <- alice").to.be.below(1_000);
    expect(
      sfu.server.service
        .peerSnapshots()
        .filter((p) => p.roomId === "live")
        .map((p) => p.connectionState),
    ).to.deep.equal(["connected", "connected"]);

    // The fuzzers' sessions are all gone once their sockets closed and the grace period ran out.
    await waitFor(
      () =>
        sfu.server.application.sfu.rooms.every((room) => room.id === "live" || /^fuzz-\d$/.test(room.id)) &&
        sfu.server.application.sfu.peerCount === 2 + LANES,
      5_000,
      "the fuzzers' sessions to end",
    );

    const carol = await join("after-fuzz", "carol");
    const dave = await join("after-fuzz", "dave");
    await dave.waitForPackets(carol.peerId, 25);
    await carol.waitForPackets(dave.peerId, 25);
    expect(dave.stats(carol.peerId)!.corrupt).to.equal(0);
  });

  it("answers an SDP over MAX_SDP_BYTES with BAD_REQUEST, and disconnects only a socket whose frame is over its buffer", async () => {
    const big = new SignalingClient(sfu.server.url);
    const other = new SignalingClient(sfu.server.url);
    try {
      await Promise.all([big.connected(), other.connected()]);
      // Over MAX_SDP_BYTES but well inside the socket buffer: the SDP check answers.
      const oversized = await big.request("offer", {
        type: "offer",
        sdp: "v=0\r\n" + "a=x\r\n".repeat(14_000),
      });
      expect(oversized).to.deep.equal({
        ok: false,
        error: { code: "BAD_REQUEST", message: `sdp is larger than ${MAX_SDP_BYTES} bytes` },
      });
      expect(big.socket.connected).to.equal(true);
      const reason = new Promise<string>((resolve) => big.socket.once("disconnect", resolve));
      // 2 × 30,000 + 64 KiB is 125,536 bytes; this frame is over 280,000.
      big.socket.emit("offer", { type: "offer", sdp: "v=0\r\n" + "a=x\r\n".repeat(40_000) });
      expect(await reason).to.be.a("string");
      const ack = await other.request("leave", { roomId: "r" });
      expect(ack).to.deep.include({ ok: false });
    } finally {
      big.close();
      other.close();
    }
  });
});

describe("signaling rate limit", function () {
  this.timeout(30_000);
  const limited = useSfu({ EVENT_RATE_LIMIT: "20" });

  it("answers RATE_LIMITED beyond EVENT_RATE_LIMIT within 2 s, then serves the socket again", async () => {
    const client = await limited.connect();
    const socket = client.socket as unknown as Socket;
    const started = performance.now();
    const acks = (await Promise.all(
      Array.from({ length: 200 }, () => socket.timeout(ACK_LIMIT_MS).emitWithAck("leave", { roomId: "r" })),
    )) as AckResult[];
    const ms = performance.now() - started;
    const codes = acks.map((a) => (a.ok ? "ok" : a.error.code));
    const limitedCount = codes.filter((c) => c === "RATE_LIMITED").length;
    console.log(
      `      200 events at once: ${200 - limitedCount} NOT_JOINED, ${limitedCount} RATE_LIMITED, all acked in ${ms.toFixed(0)} ms`,
    );
    // A bucket of twice the rate: the first 40 pass, nearly all the rest are refused.
    expect(codes.slice(0, 40)).to.deep.equal(Array(40).fill("NOT_JOINED"));
    expect(limitedCount).to.be.at.least(150);
    await sleep(1_100);
    const ack = await client.request("leave", { roomId: "r" });
    expect(ack).to.deep.include({ ok: false });
    if (!ack.ok) expect(ack.error.code).to.equal("NOT_JOINED");
  });
});
