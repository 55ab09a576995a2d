import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect } from "chai";
import { RTCPeerConnection } from "werift";
import type { AckResult, JoinedMessage } from "../../lib/protocol.js";
import { MediaClient } from "../helpers/MediaClient.js";
import { SignalingClient } from "../helpers/SignalingClient.js";
import { sleep, waitFor } from "../helpers/wait.js";
import type { Figures } from "./churnServer.js";
import { closedOffer } from "../helpers/loopbackPeer.js";

const CYCLES = 300;
const WARMUP = 12;
const LANES = 6;
const GRACE_MS = 200;
const ICE_TIMEOUT_MS = 3_000;
const ROOM = "churn";
const HEAP_BUDGET_MB = 5;

const CYCLE_KINDS = ["leave", "disconnect", "no-ice", "join-only", "data-channel", "resume"] as const;
type CycleKind = (typeof CYCLE_KINDS)[number];

/** The churn SFU's process: started with --expose-gc, measured over IPC. */
class SfuProcess {
  readonly child: ChildProcess;
  readonly url: Promise<string>;

  constructor() {
    const script = fileURLToPath(new URL("./churnServer.ts", import.meta.url));
    this.child = spawn(process.execPath, ["--expose-gc", "--import", "tsx", script], {
      stdio: ["ignore", "pipe", "inherit", "ipc"],
      env: {
        ...process.env,
        CHURN_ENV: JSON.stringify({
          RECONNECT_GRACE_MS: String(GRACE_MS),
          ICE_TIMEOUT_MS: String(ICE_TIMEOUT_MS),
        }),
      },
    });
    this.url = new Promise((resolve, reject) => {
      let out = "";
      this.child.stdout!.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        const url = /CHURN_SFU (\S+)/.exec(out)?.[1];
        if (url) resolve(url);
      });
      this.child.once("exit", (code) => reject(new Error(`churn SFU exited with ${code}`)));
    });
  }

  #nextId = 0;

  /** The SFU process's figures, after garbage collection when `gc`. */
  figures(gc: boolean): Promise<Figures> {
    const id = ++this.#nextId;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.child.off("message", onMessage);
        reject(new Error("the churn SFU did not report its figures"));
      }, 15_000);
      const onMessage = (message: { id?: number; figures?: Figures; error?: string }) => {
        if (message.id !== id) return;
        clearTimeout(timer);
        this.child.off("message", onMessage);
        if (message.figures) resolve(message.figures);
        else reject(new Error(message.error));
      };
      this.child.on("message", onMessage);
      this.child.send({ id, figures: { gc } });
    });
  }

  stop(): Promise<void> {
    if (this.child.exitCode !== null) return Promise.resolve();
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.disconnect();
    return exited;
  }
}

/** An offer from a connection that is closed at once: the SFU answers, but ICE can never complete. */
async function deadOffer(dataChannel: boolean): Promise<string> {
  return closedOffer((pc) => {
    pc.addTransceiver("audio", { direction: "sendrecv" });
    if (dataChannel) pc.createDataChannel("chat");
  });
}

async function request(client: SignalingClient, event: "join" | "offer" | "leave", payload: unknown) {
  const ack: AckResult = await client.request(event, payload, 5_000);
  return ack;
}

/** One join/leave cycle of `kind`; resolves once the client side is done (the SFU may still be timing out). */
async function cycle(url: string, kind: CycleKind, id: string): Promise<void> {
  const userId = `${kind}-${id}`;
  switch (kind) {
    case "leave": {
      const client = await MediaClient.join(url, { roomId: ROOM, userId });
      client.startSending();
      await waitFor(() => client.pc.connectionState === "connected", 5_000, "connected");
      const ack = await request(client.signaling, "leave", { roomId: ROOM });
      if (!ack.ok) throw new Error(`leave refused: ${ack.error.code}`);
      await client.close();
      return;
    }
    case "disconnect": {
      // The socket drops without leave: the SFU keeps the peer for the grace period, then removes it.
      const client = await MediaClient.join(url, { roomId: ROOM, userId });
      client.startSending();
      await waitFor(() => client.pc.connectionState === "connected", 5_000, "connected");
      client.signaling.socket.io.engine.close();
      await client.close();
      return;
    }
    case "no-ice": {
      // ICE never completes: the SFU gives the peer up after ICE_TIMEOUT_MS as "failed".
      const client = new SignalingClient(url);
      await client.connected();
      await request(client, "join", { roomId: ROOM, userId });
      await request(client, "offer", { type: "offer", sdp: await deadOffer(false) });
      await client.waitForEvent("error", (e) => e.code === "NEGOTIATION_FAILED", ICE_TIMEOUT_MS + 5_000);
      client.close();
      return;
    }
    case "join-only": {
      const client = new SignalingClient(url);
      await client.connected();
      await request(client, "join", { roomId: ROOM, userId });
      client.close();
      return;
    }
    case "data-channel": {
      // werift leaks the SCTP socket of an answered data channel, so the SFU must refuse such offers.
      const client = new SignalingClient(url);
      await client.connected();
      await request(client, "join", { roomId: ROOM, userId });
      const ack = await request(client, "offer", { type: "offer", sdp: await deadOffer(true) });
      if (ack.ok) throw new Error("a data-channel offer was accepted");
      await request(client, "leave", { roomId: ROOM });
      client.close();
      return;
    }
    case "resume": {
      const client = await MediaClient.join(url, { roomId: ROOM, userId });
      await waitFor(() => client.pc.connectionState === "connected", 5_000, "connected");
      const { resumeToken } = client.joined!;
      // Connected beforehand, so the resume races only the server's own handling of the drop, not a handshake.
      const again = new SignalingClient(url);
      await again.connected();
      client.signaling.socket.io.engine.close();
      const ack = await request(again, "join", { roomId: ROOM, userId, resumeToken });
      if (!ack.ok || !(ack as unknown as { joined: JoinedMessage }).joined.resumed)
        throw new Error("no resume");
      await request(again, "leave", { roomId: ROOM });
      again.close();
      await client.close();
      return;
    }
  }
}

function resourceDiff(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const diff: Record<string, number> = {};
  for (const type of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const delta = (after[type] ?? 0) - (before[type] ?? 0);
    if (delta !== 0) diff[type] = delta;
  }
  return diff;
}

describe("churn: join/leave cycles leave nothing behind", function () {
  this.timeout(180_000);

  it("finds the werift internals the SFU releases on a stopped transceiver (fails on an upgrade that renames them)", async () => {
    const pc = new RTCPeerConnection();
    const transceiver = pc.addTransceiver("audio", { direction: "sendonly" });
    const sender = transceiver.sender as unknown as Record<string, unknown>;
    const receiver = transceiver.receiver as unknown as Record<string, unknown>;
    expect(sender.dtlsDisposer).to.be.an("array");
    expect(sender.rtcpCancel).to.be.an.instanceOf(AbortController);
    expect(receiver.rtcpCancel).to.be.an.instanceOf(AbortController);
    await pc.close();
  });

  let sfu: SfuProcess;
  let anchor: MediaClient | undefined;

  before(() => {
    sfu = new SfuProcess();
  });

  after(async () => {
    await anchor?.close();
    await sfu.stop();
  });

  it(`returns fds, UDP sockets, handles, rooms and peers to baseline after ${CYCLES} cycles, heap within ${HEAP_BUDGET_MB} MB`, async () => {
    const url = await sfu.url;
    // Someone stays in the room throughout: every churned peer is offered its track and offers its own to it.
    anchor = await MediaClient.join(url, { roomId: ROOM, userId: "anchor" });
    anchor.startSending();
    const settle = async () => {
      // Peers that lost their socket wait out the grace period; those without ICE, the ICE timeout.
      const deadline = Date.now() + GRACE_MS + ICE_TIMEOUT_MS + 10_000;
      for (;;) {
        const f = await sfu.figures(false);
        if (f.peers === 1 && f.connections === 1) break;
        if (Date.now() > deadline) throw new Error(`churned sessions did not end: ${JSON.stringify(f)}`);
        await sleep(100);
      }
      await sleep(500);
      return sfu.figures(true);
    };

    for (let i = 0; i < WARMUP; i++) await cycle(url, CYCLE_KINDS[i % CYCLE_KINDS.length]!, `warm${i}`);
    const baseline = await settle();

    const counts = Object.fromEntries(CYCLE_KINDS.map((k) => [k, 0])) as Record<CycleKind, number>;
    let peakPeers = 0;
    let peakFds = 0;
    const sampler = setInterval(() => {
      void sfu.figures(false).then((f) => {
        peakPeers = Math.max(peakPeers, f.peers);
        peakFds = Math.max(peakFds, f.fds);
      });
    }, 250);
    const started = performance.now();
    let next = 0;
    try {
      await Promise.all(
        Array.from({ length: LANES }, async () => {
          for (let n = next++; n < CYCLES; n = next++) {
            const kind = CYCLE_KINDS[n % CYCLE_KINDS.length]!;
            await cycle(url, kind, String(n));
            counts[kind]++;
          }
        }),
      );
    } finally {
      clearInterval(sampler);
    }
    const cyclesMs = performance.now() - started;
    let after = await settle();
    // Timers a close schedules (werift's transport teardown, socket.io's) may still be pending for a
    // moment; a leaked one never goes away, so give them a bounded while to run out.
    for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
      if (Object.keys(resourceDiff(baseline.resources, after.resources)).length === 0) break;
      await sleep(250);
      after = await sfu.figures(true);
    }

    const heapGrowth = after.heapMb - baseline.heapMb;
    console.log(
      `      ${CYCLES} cycles ${JSON.stringify(counts)} in ${(cyclesMs / 1000).toFixed(1)} s; peak ${peakPeers} peers, ${peakFds} fds\n` +
        `        fds ${baseline.fds} -> ${after.fds}, UDP sockets ${baseline.udpSockets} -> ${after.udpSockets}, ` +
        `rooms ${baseline.rooms} -> ${after.rooms}, peers ${baseline.peers} -> ${after.peers}, sockets ${baseline.connections} -> ${after.connections}\n` +
        `        active resources ${JSON.stringify(baseline.resources)} -> ${JSON.stringify(after.resources)}\n` +
        `        heap after gc ${baseline.heapMb.toFixed(1)} MB -> ${after.heapMb.toFixed(1)} MB (${heapGrowth >= 0 ? "+" : ""}${heapGrowth.toFixed(2)} MB)`,
    );
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).to.equal(CYCLES);
    expect(peakPeers, "the run had peers open at once").to.be.greaterThan(2);
    expect(after.fds, "open fds").to.equal(baseline.fds);
    expect(after.udpSockets, "UDP sockets").to.equal(baseline.udpSockets);
    expect(
      resourceDiff(baseline.resources, after.resources),
      `active resources (pending timers created at: ${after.timers.join("; ")})`,
    ).to.deep.equal({});
    expect([after.rooms, after.peers, after.connections]).to.deep.equal([1, 1, 1]);
    expect(heapGrowth, "heap growth (MB)").to.be.below(HEAP_BUDGET_MB);
    // The one who stayed saw every departure, each with its reason; an ICE timeout is "failed".
    const reasons: Record<string, number> = {};
    for (const left of anchor.signaling.events("user-left"))
      reasons[left.reason] = (reasons[left.reason] ?? 0) + 1;
    const per = (CYCLES + WARMUP) / CYCLE_KINDS.length;
    expect(reasons).to.deep.equal({ leave: 3 * per, disconnect: 2 * per, failed: per });
  });
});
