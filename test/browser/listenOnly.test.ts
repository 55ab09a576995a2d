import { expect } from "chai";
import { SignJWT } from "jose";
import { MediaClient } from "../helpers/MediaClient.js";
import { sleep, waitFor } from "../helpers/wait.js";
import { useDemoBrowser } from "./useDemoBrowser.js";

const SECRET = "browser-listen-only-secret-0123456789";

/** What this test reads of the demo page's SDK client (it runs in the page). */
interface PageGlobals {
  sfuDemo: {
    client: {
      publishMicrophone(): Promise<unknown>;
      join(options: { roomId: string; userId: string; displayName: string; token: string }): Promise<unknown>;
      peerConnection: {
        getTransceivers(): Array<{ currentDirection: string | null }>;
        getStats(): Promise<Map<string, { type: string; packetsReceived?: number }>>;
      };
    };
  };
}

function token(userId: string, canPublish: boolean): Promise<string> {
  return new SignJWT({ room: "*", sub: userId, canPublish })
    .setProtectedHeader({ alg: "HS256" })
    .setExpirationTime(Math.floor(Date.now() / 1000) + 300)
    .sign(new TextEncoder().encode(SECRET));
}

describe("the browser SDK as a listen-only participant (PROTOCOL §15)", function () {
  this.timeout(90_000);
  this.slow(20_000);
  const demo = useDemoBrowser({ JOIN_TOKEN_SECRET: SECRET });
  let speaker: MediaClient | undefined;

  afterEach(async () => {
    await speaker?.close();
    speaker = undefined;
  });

  it("connects with its microphone answered inactive, hears the speaker, and sends it nothing", async () => {
    speaker = await MediaClient.join(demo.server.url, {
      roomId: "stage",
      userId: "speaker",
      token: await token("speaker", true),
    });
    speaker.startSending();
    const page = await demo.open("stage", "Lee", "lee");
    await page.page.evaluate(
      async ({ jwt }) => {
        const client = (globalThis as unknown as PageGlobals).sfuDemo.client;
        await client.publishMicrophone();
        await client.join({ roomId: "stage", userId: "lee", displayName: "Lee", token: jwt });
      },
      { jwt: await token("lee", false) },
    );
    await page.waitForState("connected");
    await page.waitForRemoteAudio(1);
    const micDirection = await page.page.evaluate(() => {
      const pc = (globalThis as unknown as PageGlobals).sfuDemo.client.peerConnection;
      return pc.getTransceivers()[0]?.currentDirection;
    });
    expect(micDirection).to.equal("inactive");
    const inbound = () =>
      page.page.evaluate(async () => {
        const pc = (globalThis as unknown as PageGlobals).sfuDemo.client.peerConnection;
        let received = 0;
        for (const stat of (await pc.getStats()).values()) {
          if (stat.type === "inbound-rtp") received += stat.packetsReceived ?? 0;
        }
        return received;
      });
    let received = 0;
    await waitFor(async () => (received = await inbound()) > 50, 10_000, "the speaker's packets");
    expect(received, "the listener receives the speaker").to.be.above(50);
    await sleep(1000);
    expect(speaker.trackStreams, "no track for the listener").to.deep.equal([]);
    expect(await page.peerId())
      .to.be.a("string")
      .and.not.equal("");
  });
});
