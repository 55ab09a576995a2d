import { expect } from "chai";
import { ChromiumBrowser } from "../browser/ChromiumBrowser.js";
import type { TestPage } from "../browser/TestPage.js";
import { waitFor } from "../helpers/wait.js";
import { RandomBalancer } from "./RandomBalancer.js";
import { useCluster } from "./useCluster.js";

interface PageSdk {
  lbClient?: {
    state: string;
    peerId: string | undefined;
    getStats(): Promise<Map<string, { packetsReceived: number }>>;
  };
}

/** Joins `roomId` from the page with the SDK served by whichever node the router picked, over WebSocket. */
async function joinFromPage(page: TestPage, roomId: string, userId: string): Promise<string> {
  await page.evaluate(
    async ({ roomId, userId }) => {
      const origin = (globalThis as unknown as { location: { origin: string } }).location.origin;
      // The bundle the nodes serve, loaded inside the page: not a module of this test.
      const sdk = (await import(`${origin}/sfu-client.js`)) as {
        connect(
          url: string,
          options: object,
        ): NonNullable<PageSdk["lbClient"]> & {
          publishMicrophone(): Promise<unknown>;
          join(options: object): Promise<unknown>;
        };
      };
      // Behind a router without affinity only WebSocket works: a long-polling session would hop nodes.
      const client = sdk.connect(origin, { socket: { transports: ["websocket"] } });
      (globalThis as unknown as PageSdk).lbClient = client;
      await client.publishMicrophone();
      await client.join({ roomId, userId });
    },
    { roomId, userId },
  );
  await page.waitForFunction(
    () => (globalThis as unknown as PageSdk).lbClient?.state === "connected",
    undefined,
    {
      timeout: 20_000,
    },
  );
  return page.evaluate(() => (globalThis as unknown as PageSdk).lbClient!.peerId!);
}

function inbound(page: TestPage): Promise<Record<string, number>> {
  return page.evaluate(async () => {
    const stats = await (globalThis as unknown as PageSdk).lbClient!.getStats();
    return Object.fromEntries([...stats].map(([peerId, s]) => [peerId, s.packetsReceived]));
  });
}

describe("the browser SDK through a random router in front of three nodes", function () {
  this.timeout(90_000);
  const cluster = useCluster();
  let browser: ChromiumBrowser | undefined;
  let balancer: RandomBalancer | undefined;

  before(async () => {
    // A missing Chromium fails the suite, as in the other browser suites.
    browser = await ChromiumBrowser.launch();
    balancer = await RandomBalancer.start(() =>
      cluster.nodes.filter((node) => node.alive).map((node) => Number(new URL(node.url).port)),
    );
  });

  after(async () => {
    await balancer?.close();
    await browser?.close();
  });

  it("joins Chromium pages and a headless client into one room, wherever the router sends each, and they hear each other", async () => {
    const pages = await Promise.all(
      ["ada", "bea"].map(async (userId) => {
        const page = await browser!.newPage((line) => console.log(`      [${userId}] ${line}`));
        await page.goto(`${balancer!.url}/`);
        return { page, peerId: await joinFromPage(page, "routed", userId) };
      }),
    );
    const headless = await cluster.join(cluster.nodes[2]!, "routed", "cat");
    headless.startSending();
    const ids = [...pages.map(({ peerId }) => peerId), headless.peerId];
    for (const { page, peerId } of pages) {
      const others = ids.filter((id) => id !== peerId);
      await waitFor(
        async () => {
          const counts = await inbound(page);
          return others.every((id) => (counts[id] ?? 0) >= 50);
        },
        20_000,
        `page ${peerId} to hear ${others.join(", ")}`,
      );
    }
    for (const { peerId } of pages) await headless.waitForPackets(peerId, 50, 20_000);

    const { body } = await cluster.nodes[0]!.get<{
      peers: Array<{ peerId: string; roomId: string; nodeId: string; signalingNodeId: string }>;
    }>("/debug/peers");
    const rows = body.peers.filter((peer) => peer.roomId === "routed");
    expect(rows.map((row) => row.peerId).sort()).to.deep.equal([...ids].sort());
    expect(new Set(rows.map((row) => row.nodeId)).size).to.equal(1);
    console.log(
      `      signaling through ${rows.map((row) => row.signalingNodeId).join(", ")}; media on ${rows[0]!.nodeId}; router connections per port ${JSON.stringify([...balancer!.counts])}`,
    );
    for (const { page } of pages) await page.close();
  });
});
