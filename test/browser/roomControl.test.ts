import { expect } from "chai";
import request from "supertest";
import type { PeerSnapshot } from "../../lib/types.js";
import type { DemoPage } from "./DemoPage.js";
import { useDemoBrowser } from "./useDemoBrowser.js";

const TOKEN = "admin-secret";

/**
 * Chromium's fake microphone beeps briefly about twice a second, a cough
 * rather than speech to the default rule (40 % of 400 ms loud). Here one loud
 * packet in a 600 ms window counts, so the beeping page speaks steadily.
 */
const SERVER_ENV = {
  ADMIN_TOKEN: TOKEN,
  ACTIVE_SPEAKER_WINDOW_MS: "600",
  ACTIVE_SPEAKER_START_PERCENT: "1",
  ACTIVE_SPEAKER_HOLD_PERCENT: "1",
};

/** The classes of the participant row `id` ("self" for the page's own) on `page`. */
function rowClasses(page: DemoPage, id: string): Promise<string[]> {
  return page.page.evaluate((peerId) => {
    const doc = (
      globalThis as unknown as { document: { querySelector(s: string): { className: string } | null } }
    ).document;
    const item = doc.querySelector(`#participants li[data-peer-id="${peerId}"]`);
    if (!item) throw new Error(`no participant row ${peerId}`);
    return item.className.split(/\s+/).filter(Boolean);
  }, id);
}

async function waitForRow(page: DemoPage, id: string, selector: string, timeout = 10_000): Promise<void> {
  await page.page.waitForSelector(`#participants li[data-peer-id="${id}"]${selector}`, { timeout });
}

describe("demo page: who speaks and who is muted, from the SFU", function () {
  this.timeout(90_000);
  this.slow(20_000);
  const demo = useDemoBrowser(SERVER_ENV);

  it("rings the beeping pages, shows a mute icon when a page mutes, and greys out a server-muted page's button", async () => {
    const ada = await demo.open("ring", "Ada Lovelace");
    const adaId = await ada.join();
    const grace = await demo.open("ring", "Grace Hopper");
    const graceId = await grace.join();
    await Promise.all([ada.waitForRemoteAudio(1), grace.waitForRemoteAudio(1)]);

    // The ring comes from the SFU's active-speaker list: the SDK's participant state says so too.
    await waitForRow(ada, graceId, ".speaking");
    await waitForRow(ada, "self", ".speaking");
    expect(
      await ada.page.evaluate(
        (id) =>
          (
            globalThis as unknown as {
              sfuDemo: { client: { participants: Map<string, { speaking: boolean; audioLevel: number }> } };
            }
          ).sfuDemo.client.participants.get(id),
        graceId,
      ),
    ).to.include({ speaking: true });
    const { peers } = (
      await request(demo.server.url).get("/debug/peers").set("Authorization", `Bearer ${TOKEN}`).expect(200)
    ).body as { peers: PeerSnapshot[] };
    for (const row of peers) {
      expect(row.speaking, `${row.peerId} speaking on the SFU`).to.equal(true);
      console.log(`      ${row.displayName}: SFU level ${row.audioLevel.toFixed(3)}`);
    }

    await grace.page.click("#mute");
    await waitForRow(ada, graceId, ".muted:not(.speaking)");
    await waitForRow(grace, "self", ".muted:not(.speaking)");
    expect(await rowClasses(ada, "self"), "Ada still speaks").to.include("speaking");
    expect(await rowClasses(ada, graceId)).to.not.include("server-muted");

    const muted = await request(demo.server.url)
      .post(`/admin/rooms/ring/peers/${adaId}/mute`)
      .set("Authorization", `Bearer ${TOKEN}`)
      .send({ muted: true })
      .expect(200);
    expect((muted.body as { peer: PeerSnapshot }).peer).to.include({ serverMuted: true });
    await ada.page.waitForSelector("#mute.locked:disabled", { timeout: 10_000 });
    await waitForRow(ada, "self", ".server-muted:not(.speaking)");
    await waitForRow(grace, adaId, ".server-muted.muted");

    const screenshot = process.env.SFU_DEMO_SCREENSHOT;
    if (screenshot) {
      // Ada's view: muted by a moderator (her button greyed out), Grace unmuted again and speaking.
      await grace.page.click("#mute");
      await waitForRow(ada, graceId, ".speaking:not(.muted)");
      await ada.page.screenshot({ path: screenshot, fullPage: true });
    }

    await request(demo.server.url)
      .post(`/admin/rooms/ring/peers/${adaId}/mute`)
      .set("Authorization", `Bearer ${TOKEN}`)
      .send({ muted: false })
      .expect(200);
    await ada.page.waitForSelector("#mute:not(.locked):enabled", { timeout: 10_000 });
    await waitForRow(grace, adaId, ":not(.muted).speaking");
  });
});
