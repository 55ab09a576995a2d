import { expect } from "chai";
import request from "supertest";
import type { MediaClient } from "../helpers/MediaClient.js";
import { startServer, type TestServer } from "../helpers/server.js";
import { MediaClient as Client } from "../helpers/MediaClient.js";
import { waitFor } from "../helpers/wait.js";
import { WebhookReceiver, type ReceivedWebhook } from "../helpers/WebhookReceiver.js";

const SECRET = "webhook-secret";

/** Event ids a receiver accepted (2xx), in the order it saw them. */
function deliveredIds(
  receiver: WebhookReceiver,
  accepted: (index: number) => boolean = () => true,
): string[] {
  return receiver.requests.filter((_, i) => accepted(i)).map((webhook) => webhook.body.id);
}

const describeEvent = (webhook: ReceivedWebhook) =>
  [webhook.body.event, (webhook.body.participant as { userId?: string } | undefined)?.userId ?? ""].join(" ");

describe("webhooks", function () {
  this.timeout(60_000);
  let server: TestServer | undefined;
  const receivers: WebhookReceiver[] = [];
  const clients: MediaClient[] = [];

  const start = async (count: number, env: Record<string, string> = {}) => {
    for (let i = 0; i < count; i++) receivers.push(await WebhookReceiver.start());
    server = await startServer({
      WEBHOOK_URLS: receivers.map((receiver) => receiver.url).join(","),
      WEBHOOK_SECRET: SECRET,
      ...env,
    });
    return server;
  };
  const join = async (
    roomId: string,
    userId: string,
    options: Partial<Parameters<typeof Client.join>[1]> = {},
  ) => {
    const client = await Client.join(server!.url, { roomId, userId, ...options });
    clients.push(client);
    return client;
  };

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await server?.close();
    server = undefined;
    await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
  });

  for (const [mode, env] of [
    ["in the main thread", {}],
    ["with SFU_WORKERS=2", { SFU_WORKERS: "2" }],
  ] as const)
    it(`posts every room and participant event, signed, in the same order to each URL (${mode})`, async () => {
      await start(2, env);
      const alice = await join("hooks", "alice", { displayName: "Alice" });
      const bob = await join("hooks", "bob");
      expect(await bob.signaling.request("mute", { muted: true })).to.deep.equal({ ok: true });
      // Muting again changes nothing: no second participant_muted.
      await bob.signaling.request("mute", { muted: true });
      await bob.signaling.request("leave", { roomId: "hooks" });
      await alice.signaling.request("leave", { roomId: "hooks" });
      const [first, second] = receivers as [WebhookReceiver, WebhookReceiver];
      await waitFor(
        () => first.requests.some((w) => w.body.event === "room_finished"),
        10_000,
        "room_finished",
      );
      await waitFor(() => second.requests.length === first.requests.length);

      expect(first.requests.map(describeEvent)).to.deep.equal([
        "room_started ",
        "participant_joined alice",
        "track_published alice",
        "participant_joined bob",
        "track_published bob",
        "participant_muted bob",
        "track_unpublished bob",
        "participant_left bob",
        "track_unpublished alice",
        "participant_left alice",
        "room_finished ",
      ]);
      expect(deliveredIds(second), "the same events, in the same order, to the second URL").to.deep.equal(
        deliveredIds(first),
      );
      for (const webhook of [...first.requests, ...second.requests]) {
        expect(WebhookReceiver.verify(webhook, SECRET), `signature of ${webhook.body.event}`).to.equal(true);
        expect(webhook.event).to.equal(webhook.body.event);
        expect(webhook.body.room).to.deep.equal({ roomId: "hooks" });
        expect(webhook.body.createdAt).to.be.within(Date.now() - 60_000, Date.now());
      }
      expect(WebhookReceiver.verify(first.requests[0]!, "another secret")).to.equal(false);
      const byEvent = (event: string, userId: string) =>
        first.requests.find((w) => describeEvent(w) === `${event} ${userId}`)!.body;
      expect(byEvent("participant_joined", "alice").participant).to.deep.equal({
        peerId: alice.peerId,
        userId: "alice",
        displayName: "Alice",
      });
      expect(byEvent("participant_muted", "bob").participant).to.deep.include({
        muted: true,
        serverMuted: false,
      });
      expect(byEvent("participant_left", "bob").reason).to.equal("leave");
      expect(byEvent("track_published", "bob").track).to.have.property("trackId").that.is.a("string");
      expect(new Set(first.requests.map((w) => w.body.id)).size, "one id per event").to.equal(
        first.requests.length,
      );

      const { text } = await request(server!.url).get("/metrics").expect(200);
      expect(text).to.match(/^sfu_webhook_deliveries_total\{result="delivered"\} 22$/m);
      expect(text).to.match(/^sfu_webhook_queue_length 0$/m);
    });

  it("retries a failing delivery with the same id and holds later events back until it succeeds", async () => {
    await start(1);
    const [receiver] = receivers as [WebhookReceiver];
    // 500 twice, then 200 for everything.
    receiver.answer = (_webhook, index) => (index < 2 ? 500 : 200);
    const alice = await join("retry", "alice", { publish: false });
    await alice.signaling.request("leave", { roomId: "retry" });
    await waitFor(
      () => receiver.requests.some((w) => w.body.event === "room_finished"),
      15_000,
      "room_finished",
    );

    const events = receiver.requests.map((w) => w.body.event);
    expect(events).to.deep.equal([
      "room_started",
      "room_started",
      "room_started",
      "participant_joined",
      "participant_left",
      "room_finished",
    ]);
    const ids = receiver.requests.slice(0, 3).map((w) => w.body.id);
    expect(new Set(ids).size, "the same id on every attempt").to.equal(1);
    expect(receiver.requests[0]!.raw).to.equal(receiver.requests[2]!.raw);
    const { text } = await request(server!.url).get("/metrics").expect(200);
    expect(text).to.match(/^sfu_webhook_deliveries_total\{result="failed"\} 2$/m);
    expect(text).to.match(/^sfu_webhook_deliveries_total\{result="delivered"\} 4$/m);
  });

  it("keeps its queue bounded under a receiver that never answers, while audio and signaling go on", async () => {
    await start(1, { WEBHOOK_QUEUE_SIZE: "3" });
    const [receiver] = receivers as [WebhookReceiver];
    receiver.answer = () => undefined;
    const alice = await join("stuck", "alice");
    const bob = await join("stuck", "bob");
    alice.startSending();
    bob.startSending();
    await alice.waitForPackets(bob.peerId, 25);

    for (let i = 0; i < 10; i++) {
      const started = performance.now();
      expect(await bob.signaling.request("mute", { muted: i % 2 === 0 })).to.deep.equal({ ok: true });
      expect(performance.now() - started, "a mute does not wait for the receiver").to.be.below(1000);
    }
    // Bob ends unmuted; his audio, and alice's, still flow with the receiver stuck.
    await alice.waitForPackets(bob.peerId, 50);
    await bob.waitForPackets(alice.peerId, 50);
    expect(alice.stats(bob.peerId)!.corrupt).to.equal(0);

    const { text } = await request(server!.url).get("/metrics").expect(200);
    expect(text).to.match(/^sfu_webhook_queue_length 3$/m);
    // 1 room_started + 2 × (joined, published) + 10 participant_muted = 15 events; 3 remain queued.
    expect(text).to.match(/^sfu_webhook_deliveries_total\{result="dropped"\} 12$/m);
    expect(
      receiver.requests.map((w) => w.body.event),
      "only the first event was ever tried",
    ).to.deep.equal(["room_started"]);
  });
});
