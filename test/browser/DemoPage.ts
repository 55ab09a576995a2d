import type { TestBrowser, TestPage } from "./TestPage.js";

/** The slice of the SDK client the tests reach inside the page (no DOM types here). */
interface PageClient {
  state: string;
  peerConnection:
    { localDescription: { sdp: string } | null; remoteDescription: { sdp: string } | null } | undefined;
  join(options: { roomId: string; userId: string; displayName?: string }): Promise<unknown>;
  publishMicrophone(): Promise<unknown>;
  leave(): Promise<void>;
  unpublish(): Promise<void>;
  restartIce(): Promise<void>;
  peerId: string | undefined;
  participants: Map<string, { stream: unknown }>;
  getStats(): Promise<Map<string, { packetsReceived: number }>>;
  socket: { id: string | undefined; connected: boolean; io: { engine: { close(): void } } };
  on(event: string, listener: (...args: unknown[]) => void): () => void;
}

interface RecordedEvents {
  /** Participants that left, with the reason the SFU gave. */
  left: Array<{ peerId: string; reason: string }>;
  joinedEvents: Array<{ peerId: string; resumed: boolean; previousPeerId?: string }>;
  states: string[];
}

/** The globals the demo page exposes (`window.sfuDemo`) plus what the tests record there. */
interface DemoGlobals {
  sfuDemo?: {
    client: PageClient;
    peakLevels(): Record<string, number>;
    resetPeaks(): void;
  };
  testEvents?: RecordedEvents;
}

/** One receiver's counters from its inbound-rtp stats (standard in Chromium and Firefox). */
export interface InboundAudio {
  packetsReceived: number;
  /** Sum over decoded samples of level² × duration. */
  totalAudioEnergy: number;
  /** Seconds of audio decoded. */
  totalSamplesDuration: number;
}

/**
 * Runs inside the page: each participant's receiver found by its track. Plain
 * JavaScript in a string: the test runner's transform would wrap named
 * functions in helpers the page does not have.
 */
const READ_INBOUND_AUDIO = `(async () => {
  const { client } = sfuDemo;
  const receivers = client.peerConnection?.getReceivers() ?? [];
  const result = {};
  for (const [peerId, participant] of client.participants) {
    const track = participant.stream?.getAudioTracks()[0];
    const receiver = track && receivers.find((r) => r.track.id === track.id);
    if (!receiver) continue;
    for (const stats of (await receiver.getStats()).values()) {
      if (stats.type !== "inbound-rtp") continue;
      result[peerId] = {
        packetsReceived: stats.packetsReceived ?? 0,
        totalAudioEnergy: stats.totalAudioEnergy ?? 0,
        totalSamplesDuration: stats.totalSamplesDuration ?? 0,
      };
    }
  }
  return result;
})()`;

// Functions passed to page.evaluate run inside the page: they cannot call helpers defined here.

/**
 * One participant: the demo page in its own browser context, driven the way
 * a user would (fields, buttons) and inspected through `window.sfuDemo`.
 */
export class DemoPage {
  readonly name: string;
  readonly page: TestPage;
  /** Console lines and page errors, printed when a test fails. */
  readonly console: string[];

  private constructor(name: string, page: TestPage, lines: string[]) {
    this.name = name;
    this.page = page;
    this.console = lines;
  }

  /**
   * Opens the demo page in `browser` with the room and name filled in;
   * `userId` pins the tab's user id; `prepare` runs before the page loads.
   */
  static async open(
    browser: TestBrowser,
    baseUrl: string,
    room: string,
    name: string,
    userId?: string,
    prepare?: (page: TestPage) => Promise<void>,
  ): Promise<DemoPage> {
    const lines: string[] = [];
    const page = await browser.newPage((line) => lines.push(`[${name}] ${line}`));
    try {
      if (userId !== undefined) {
        await page.addInitScript((id) => {
          (
            globalThis as unknown as { sessionStorage: { setItem(k: string, v: string): void } }
          ).sessionStorage.setItem("sfu-demo-user", id);
        }, userId);
      }
      await prepare?.(page);
      const query = new URLSearchParams({ room, name });
      if (process.env.SFU_CLIENT_DEBUG) query.set("debug", "");
      await page.goto(`${baseUrl}/?${query.toString()}`);
      await page.waitForFunction(() => (globalThis as unknown as DemoGlobals).sfuDemo !== undefined);
    } catch (error) {
      // Nobody else holds the page yet: close it here, or its context outlives the test.
      await page.close().catch(() => undefined);
      throw error;
    }
    return new DemoPage(name, page, lines);
  }

  /** Clicks Join and waits for the SDK to report `connected`; returns the peerId. */
  async join(): Promise<string> {
    await this.page.click("#join");
    await this.page.waitForFunction(
      () => (globalThis as unknown as Required<DemoGlobals>).sfuDemo.client.state === "connected",
      undefined,
      {
        timeout: 20_000,
      },
    );
    return this.peerId();
  }

  async leave(): Promise<void> {
    await this.page.click("#leave");
  }

  peerId(): Promise<string> {
    return this.page.evaluate(
      () => (globalThis as unknown as Required<DemoGlobals>).sfuDemo.client.peerId ?? "",
    );
  }

  state(): Promise<string> {
    return this.page.evaluate(() => (globalThis as unknown as Required<DemoGlobals>).sfuDemo.client.state);
  }

  /** Waits until `count` remote participants have delivered a MediaStream. */
  async waitForRemoteAudio(count: number): Promise<void> {
    await this.page.waitForFunction(
      (expected) =>
        [...(globalThis as unknown as Required<DemoGlobals>).sfuDemo.client.participants.values()].filter(
          (p) => p.stream,
        ).length === expected,
      count,
      { timeout: 20_000 },
    );
  }

  /** The peerIds in the SDK's participant list. */
  participantIds(): Promise<string[]> {
    return this.page.evaluate(() => [
      ...(globalThis as unknown as Required<DemoGlobals>).sfuDemo.client.participants.keys(),
    ]);
  }

  /** The peerIds the page's participant list shows (the demo's own row is "self"). */
  listedIds(): Promise<string[]> {
    return this.page.evaluate(() => {
      const { document } = globalThis as unknown as {
        document: { querySelectorAll(s: string): Iterable<{ dataset: { peerId?: string } }> };
      };
      return [...document.querySelectorAll("#participants li")].map((item) => item.dataset.peerId ?? "");
    });
  }

  /** The browser's selected ICE pair, from `RTCPeerConnection.getStats()`: its local candidate's type and protocol. */
  selectedLocalCandidate(): Promise<{ type: string; relayProtocol: string | undefined } | undefined> {
    return this.page.evaluate(async () => {
      type Stat = Record<string, unknown> & { type: string; id: string };
      const pc = (globalThis as unknown as Required<DemoGlobals>).sfuDemo.client.peerConnection as unknown as
        { getStats(): Promise<Map<string, Stat>> } | undefined;
      if (!pc) return undefined;
      const stats = [...(await pc.getStats()).values()];
      const transport = stats.find((s) => s.type === "transport");
      const pair = stats.find((s) => s.id === transport?.selectedCandidatePairId);
      const local = stats.find((s) => s.id === pair?.localCandidateId);
      if (!local) return undefined;
      return { type: String(local.candidateType), relayProtocol: local.relayProtocol as string | undefined };
    });
  }

  /** Inbound RTP packets received so far, per source peerId, from `RTCPeerConnection.getStats()`. */
  inboundPackets(): Promise<Record<string, number>> {
    return this.page.evaluate(async () => {
      const stats = await (globalThis as unknown as Required<DemoGlobals>).sfuDemo.client.getStats();
      return Object.fromEntries([...stats].map(([peerId, s]) => [peerId, s.packetsReceived]));
    });
  }

  /**
   * What each remote participant's receiver has got so far, by source peerId:
   * RTP packets, and the energy and duration of the audio it decoded.
   */
  inboundAudio(): Promise<Record<string, InboundAudio>> {
    return this.page.evaluate<Record<string, InboundAudio>>(READ_INBOUND_AUDIO);
  }

  /** Highest analyser level per participant since the last `resetPeaks()`. */
  peakLevels(): Promise<Record<string, number>> {
    return this.page.evaluate(() => (globalThis as unknown as Required<DemoGlobals>).sfuDemo.peakLevels());
  }

  resetPeaks(): Promise<void> {
    return this.page.evaluate(() => (globalThis as unknown as Required<DemoGlobals>).sfuDemo.resetPeaks());
  }

  /** Starts recording the SDK's participant-left, joined and connection-state events. */
  recordEvents(): Promise<void> {
    return this.page.evaluate(() => {
      const events: RecordedEvents = { left: [], joinedEvents: [], states: [] };
      (globalThis as unknown as DemoGlobals).testEvents = events;
      const client = (globalThis as unknown as Required<DemoGlobals>).sfuDemo.client;
      client.on("participant-left", (participant, reason) =>
        events.left.push({ peerId: (participant as { peerId: string }).peerId, reason: reason as string }),
      );
      client.on("joined", (event) =>
        events.joinedEvents.push(event as RecordedEvents["joinedEvents"][number]),
      );
      client.on("connection-state", (state) => events.states.push(state as string));
    });
  }

  events(): Promise<RecordedEvents> {
    return this.page.evaluate(() => {
      const events = (globalThis as unknown as DemoGlobals).testEvents;
      if (!events) throw new Error("recordEvents() was not called");
      return events;
    });
  }

  /** Waits until the participant list no longer shows `peerId`. */
  async waitUntilUnlisted(peerId: string, timeoutMs: number): Promise<void> {
    await this.page.waitForFunction(
      (id) => {
        const { document } = globalThis as unknown as { document: { querySelector(s: string): unknown } };
        return !document.querySelector(`#participants li[data-peer-id="${id}"]`);
      },
      peerId,
      { timeout: timeoutMs },
    );
  }

  /**
   * Kills the signaling transport and, before Socket.IO reconnects (it waits
   * about a second), leaves the room through the SDK.
   */
  leaveDuringOutage(): Promise<void> {
    return this.page.evaluate(() => {
      const client = (globalThis as unknown as Required<DemoGlobals>).sfuDemo.client;
      client.socket.io.engine.close();
      return client.leave();
    });
  }

  /** Kills the signaling transport under the SDK, as a network drop would; returns the old socket id. */
  dropSocket(): Promise<string | undefined> {
    return this.page.evaluate(() => {
      const socket = (globalThis as unknown as Required<DemoGlobals>).sfuDemo.client.socket;
      const id = socket.id;
      socket.io.engine.close();
      return id;
    });
  }

  /** Joins through the SDK without publishing a microphone (the demo's Join always tries to). */
  async joinListenOnly(roomId: string, userId: string): Promise<string> {
    await this.page.evaluate(
      ({ roomId, userId }) =>
        (globalThis as unknown as Required<DemoGlobals>).sfuDemo.client.join({
          roomId,
          userId,
          displayName: userId,
        }),
      { roomId, userId },
    );
    await this.waitForState("connected");
    return this.peerId();
  }

  publishMicrophone(): Promise<void> {
    return this.page.evaluate(async () => {
      await (globalThis as unknown as Required<DemoGlobals>).sfuDemo.client.publishMicrophone();
    });
  }

  unpublish(): Promise<void> {
    return this.page.evaluate(() =>
      (globalThis as unknown as Required<DemoGlobals>).sfuDemo.client.unpublish(),
    );
  }

  restartIce(): Promise<void> {
    return this.page.evaluate(() =>
      (globalThis as unknown as Required<DemoGlobals>).sfuDemo.client.restartIce(),
    );
  }

  /** The ICE username fragments of the current local and remote descriptions. */
  iceUfrags(): Promise<{ local: string | undefined; remote: string | undefined }> {
    // No helper functions inside: tsx would wrap them in a __name() the page does not have.
    return this.page.evaluate(() => {
      const pc = (globalThis as unknown as Required<DemoGlobals>).sfuDemo.client.peerConnection;
      const pattern = /a=ice-ufrag:(\S+)/;
      return {
        local: pattern.exec(pc?.localDescription?.sdp ?? "")?.[1],
        remote: pattern.exec(pc?.remoteDescription?.sdp ?? "")?.[1],
      };
    });
  }

  /** The status line under the participant list. */
  message(): Promise<string> {
    return this.page.evaluate(() => {
      const { document } = globalThis as unknown as {
        document: { querySelector(s: string): { textContent: string | null } | null };
      };
      return document.querySelector("#message")?.textContent ?? "";
    });
  }

  socketConnected(): Promise<boolean> {
    return this.page.evaluate(
      () => (globalThis as unknown as Required<DemoGlobals>).sfuDemo.client.socket.connected,
    );
  }

  /** Waits until the SDK reports `state`. */
  async waitForState(state: string, timeout = 20_000): Promise<void> {
    await this.page.waitForFunction(
      (expected) => (globalThis as unknown as Required<DemoGlobals>).sfuDemo.client.state === expected,
      state,
      { timeout },
    );
  }

  /** Waits until the SDK has emitted `joined` `count` times since `recordEvents()`. */
  async waitForJoinedEvents(count: number, timeout = 30_000): Promise<void> {
    await this.page.waitForFunction(
      (expected) => ((globalThis as unknown as DemoGlobals).testEvents?.joinedEvents.length ?? 0) >= expected,
      count,
      { timeout },
    );
  }

  socketId(): Promise<string | undefined> {
    return this.page.evaluate(
      () => (globalThis as unknown as Required<DemoGlobals>).sfuDemo.client.socket.id,
    );
  }

  /** Closes the page and its browser context. */
  close(): Promise<void> {
    return this.page.close();
  }
}
