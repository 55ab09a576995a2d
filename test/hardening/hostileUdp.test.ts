import { createSocket } from "node:dgram";
import { readFileSync } from "node:fs";
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import { expect } from "chai";
import { useSfu } from "../helpers/fixture.js";
import type { MediaClient } from "../helpers/MediaClient.js";
import { recordingLogger } from "../helpers/server.js";
import { sleep, waitFor } from "../helpers/wait.js";
import { GapTracker } from "./GapTracker.js";
import { HOSTILE_KINDS, hostileDatagram, type HostileKind, type HostileTarget } from "./hostile.js";
import { Prng } from "./prng.js";
import { iceCredentials } from "./stun.js";

const SEED = 0x5eed_0dd;
const PER_KIND = 4_200;
/** From the client's own address: the kinds that pass the source check and reach SRTP/SRTCP, STUN or DTLS. */
const CLIENT_KINDS: HostileKind[] = ["rtp", "rtcp", "stun", "dtls"];
const PER_CLIENT_KIND = 2_000;
const BATCH = 100;

/** The kernel's drop counter for the UDP socket bound to `port` (0 when not found). */
function udpDrops(port: number): number {
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const line of readFileSync("/proc/net/udp", "utf8").split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    if (fields[1]?.endsWith(hexPort)) return Number(fields.at(-1));
  }
  return 0;
}

/**
 * The SFU, both clients and the flood share this process: a gap in the audio
 * could also be this process pausing. Watches its event loop and its GC
 * pauses while a flood runs, so that a failure says which it was.
 */
class PauseWatch {
  readonly #loop = monitorEventLoopDelay({ resolution: 10 });
  readonly #gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) this.#longestGcMs = Math.max(this.#longestGcMs, entry.duration);
  });
  #longestGcMs = 0;

  constructor() {
    this.#loop.enable();
    this.#gc.observe({ entryTypes: ["gc"] });
  }

  stop(): string {
    this.#loop.disable();
    this.#gc.disconnect();
    return `test process: longest event-loop delay ${(this.#loop.max / 1e6).toFixed(0)} ms, longest GC pause ${this.#longestGcMs.toFixed(0)} ms`;
  }
}

function ssrcsIn(sdp: string | undefined): number[] {
  return [...(sdp ?? "").matchAll(/^a=ssrc:(\d+)/gm)].map((m) => Number(m[1]));
}

describe("hostile UDP at a live peer's media port", function () {
  this.timeout(60_000);
  const logs = recordingLogger();
  const sfu = useSfu({}, { per: "suite", logger: logs.logger });
  let alice: MediaClient;
  let bob: MediaClient;
  let sfuAddress: readonly [string, number];
  let target: HostileTarget;
  /** Datagrams the floods got to the SFU's socket past the kernel's queue: the stranger's and the forged ones. */
  let hostileDelivered = 0;

  before(async () => {
    alice = await sfu.join("hostile", "alice");
    bob = await sfu.join("hostile", "bob");
    alice.startSending();
    bob.startSending();
    await bob.waitForPackets(alice.peerId, 25);
    await alice.waitForPackets(bob.peerId, 25);
    // The SFU's end of bob's media path: what an on-path observer or a port scan would find.
    sfuAddress = bob.pc.iceTransports[0]!.connection.nominated!.remoteAddr;
    target = {
      ufrag: iceCredentials(bob.signaling.events("answer")[0]!.sdp).ufrag,
      ssrcs: [...ssrcsIn(bob.pc.remoteDescription?.sdp), ...ssrcsIn(bob.pc.localDescription?.sdp)],
    };
  });

  /** Sends `perKind` datagrams of each kind, interleaved, in paced batches; checks that audio kept flowing. */
  async function flood(
    seed: number,
    kinds: readonly HostileKind[],
    perKind: number,
    send: (data: Buffer) => Promise<void>,
  ): Promise<string> {
    const gaps = [new GapTracker(bob), new GapTracker(alice)];
    for (const gap of gaps) gap.reset();
    const pauses = new PauseWatch();
    const dropsBefore = udpDrops(sfuAddress[1]);
    const rng = new Prng(seed);
    const plan = kinds.flatMap((kind) => Array<HostileKind>(perKind).fill(kind));
    // Interleave the kinds (seeded Fisher-Yates) so each parser sees them mixed with real traffic.
    for (let i = plan.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [plan[i], plan[j]] = [plan[j]!, plan[i]!];
    }
    const bytes: Partial<Record<HostileKind, number>> = {};
    const started = performance.now();
    for (let i = 0; i < plan.length; i += BATCH) {
      await Promise.all(
        plan.slice(i, i + BATCH).map((kind) => {
          const data = hostileDatagram(rng, kind, target);
          bytes[kind] = (bytes[kind] ?? 0) + data.length;
          return send(data);
        }),
      );
      await sleep(4);
    }
    const sendMs = performance.now() - started;
    await sleep(1_000);
    const [bobGap, aliceGap] = gaps.map((gap) => gap.finish());
    const pausesSeen = pauses.stop();
    const kernelDropped = udpDrops(sfuAddress[1]) - dropsBefore;
    hostileDelivered += plan.length - kernelDropped;
    // A gap tracker that watched no track reports no gap at all: half a second of audio at least.
    for (const [name, gap] of [
      ["bob", gaps[0]!],
      ["alice", gaps[1]!],
    ] as const)
      expect(gap.packets, `packets ${name}'s gap tracker watched`).to.be.at.least(25);

    expect(bobGap, `longest gap bob <- alice (${pausesSeen})`).to.be.below(1_000);
    expect(aliceGap, `longest gap alice <- bob (${pausesSeen})`).to.be.below(1_000);
    expect(bob.pc.connectionState).to.equal("connected");
    const states = sfu.server.service.peerSnapshots().map((p) => p.connectionState);
    expect(states).to.deep.equal(["connected", "connected"]);
    await bob.waitForPackets(alice.peerId, 25);
    await alice.waitForPackets(bob.peerId, 25);
    expect(bob.stats(alice.peerId)!.corrupt, "corrupted packets forwarded to bob").to.equal(0);
    expect(alice.stats(bob.peerId)!.corrupt, "corrupted packets forwarded to alice").to.equal(0);
    return (
      `${plan.length} datagrams (${perKind} per kind; bytes ${JSON.stringify(bytes)}) in ${sendMs.toFixed(0)} ms; ` +
      `kernel dropped ${kernelDropped} at the SFU socket; ` +
      `longest audio gap: bob ${bobGap!.toFixed(0)} ms, alice ${aliceGap!.toFixed(0)} ms; ${pausesSeen}`
    );
  }

  it(`survives ${PER_KIND * HOSTILE_KINDS.length} random, RTP-, RTCP-, DTLS- and STUN-like datagrams from a stranger, answering none`, async () => {
    const attacker = createSocket("udp4");
    const replies: Buffer[] = [];
    attacker.on("message", (data) => replies.push(data));
    await new Promise<void>((resolve) => attacker.bind(0, "127.0.0.1", resolve));
    const [host, port] = sfuAddress;
    try {
      const figures = await flood(
        SEED,
        HOSTILE_KINDS,
        PER_KIND,
        (data) => new Promise<void>((resolve) => attacker.send(data, port, host, () => resolve())),
      );
      console.log(`      stranger: ${figures}; replies ${replies.length}`);
    } finally {
      attacker.close();
    }
    expect(replies, "replies to the attacker").to.have.length(0);
  });

  it(`survives ${PER_CLIENT_KIND * CLIENT_KINDS.length} forged RTP, RTCP, STUN and DTLS datagrams from the client's own address`, async () => {
    // Sent from bob's own ICE socket: what a malicious client, or an attacker spoofing its address, can do.
    const pair = bob.pc.iceTransports[0]!.connection.nominated!;
    const figures = await flood(SEED + 1, CLIENT_KINDS, PER_CLIENT_KIND, (data) =>
      pair.protocol.sendData(data, sfuAddress).catch(() => undefined),
    );
    console.log(`      client's address: ${figures}`);
  });

  it("counted the stranger's and the forged datagrams it dropped at bob's ICE socket", async () => {
    const bobTrack = sfu.server.service.trackSnapshots().find((t) => t.peerId === bob.peerId)!;
    expect(await bob.signaling.request("leave", { roomId: "hostile" })).to.deep.equal({ ok: true });
    const closed = await waitFor(
      () => logs.entries.find((e) => e.message === "peer closed" && e.peerId === bob.peerId),
      5_000,
      "bob's session to close",
    );
    const dropped = closed.hostileDatagramsDropped as number;
    console.log(
      `      bob's ICE socket dropped ${dropped} of the ${hostileDelivered} hostile datagrams the kernel delivered; ` +
        `SRTP refused ${bobTrack.srtpAuthFailures} forged packets, ${bobTrack.srtpReplaysDropped} replays`,
    );
    // Some datagrams are well-formed enough to pass the socket's checks and fail later (ICE integrity, SRTP).
    expect(dropped, "datagrams the guard dropped").to.be.at.least(hostileDelivered / 2);
  });
});
