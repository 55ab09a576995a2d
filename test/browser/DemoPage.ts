import type { Browser, BrowserContext, Page } from "playwright-core";

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

// Functions passed to page.evaluate run inside the page: they cannot call helpers defined here.

/**
 * One participant: the demo page in its own browser context, driven the way
 * a user would (fields, buttons) and inspected through `window.sfuDemo`.
 */
export class DemoPage {
  readonly name: string;
  readonly context: BrowserContext;
  readonly page: Page;
  /** Console lines and page errors, printed when a test fails. */
  readonly console: string[] = [];

  private constructor(name: string, context: BrowserContext, page: Page) {
    this.name = name;
    this.context = context;
    this.page = page;
    page.on("console", (message) => this.console.push(`[${name}] ${message.type()}: ${message.text()}`));
    page.on("pageerror", (error) => this.console.push(`[${name}] pageerror: ${error.message}`));
  }

  /** Opens the demo page with the room and name filled in; `userId` pins the tab's user id. */
  static async open(
    browser: Browser,
    baseUrl: string,
    room: string,
    name: string,
    userId?: string,
  ): Promise<DemoPage> {
    const context = await browser.newContext({ viewport: { width: 640, height: 600 } });
    if (userId !== undefined) {
      await context.addInitScript((id) => {
        (
          globalThis as unknown as { sessionStorage: { setItem(k: string, v: string): void } }
        ).sessionStorage.setItem("sfu-demo-user", id);
      }, userId);
    }
    const page = await context.newPage();
    const demoPage = new DemoPage(name, context, page);
    const query = new URLSearchParams({ room, name });
    if (process.env.SFU_CLIENT_DEBUG) query.set("debug", "");
    await page.goto(`${baseUrl}/?${query.toString()}`);
    await page.waitForFunction(() => (globalThis as unknown as DemoGlobals).sfuDemo !== undefined);
    return demoPage;
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
    return this.page.$$eval("#participants li", (items) =>
      items.map((item) => (item as unknown as { dataset: { peerId?: string } }).dataset.peerId ?? ""),
    );
  }

  /** Inbound RTP packets received so far, per source peerId, from `RTCPeerConnection.getStats()`. */
  inboundPackets(): Promise<Record<string, number>> {
    return this.page.evaluate(async () => {
      const stats = await (globalThis as unknown as Required<DemoGlobals>).sfuDemo.client.getStats();
      return Object.fromEntries([...stats].map(([peerId, s]) => [peerId, s.packetsReceived]));
    });
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
  async message(): Promise<string> {
    return (await this.page.textContent("#message")) ?? "";
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

  async close(): Promise<void> {
    await this.context.close();
  }
}
