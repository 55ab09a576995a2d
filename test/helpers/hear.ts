import { expect } from "chai";
import type { MediaClient } from "./MediaClient.js";

/** Every client sends, and hears every other one, `packets` packets each, byte for byte. */
export async function expectAllHear(clients: readonly MediaClient[], packets = 25): Promise<void> {
  for (const client of clients) client.startSending();
  await Promise.all(
    clients.flatMap((receiver) =>
      clients
        .filter((sender) => sender !== receiver)
        .map((sender) => receiver.waitForPackets(sender.peerId, packets, 15_000)),
    ),
  );
  for (const receiver of clients) {
    for (const sender of clients) {
      if (sender === receiver) continue;
      const stats = receiver.stats(sender.peerId)!;
      expect(stats.corrupt, `${receiver.options.userId} hears ${sender.options.userId} intact`).to.equal(0);
      expect([...stats.sources]).to.deep.equal([sender.options.userId]);
    }
  }
}
