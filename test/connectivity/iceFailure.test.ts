import { Writable } from "node:stream";
import { expect } from "chai";
import winston from "winston";
import { closedOffer } from "../helpers/loopbackPeer.js";
import { startServer, type TestServer } from "../helpers/server.js";
import { SignalingClient } from "../helpers/SignalingClient.js";

describe("a peer whose ICE fails", function () {
  this.timeout(30_000);
  let server: TestServer | undefined;
  let client: SignalingClient | undefined;
  afterEach(async () => {
    client?.close();
    await server?.close();
  });

  it("is logged with the candidates ICE tried on both sides, types and addresses", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = winston.createLogger({
      level: "warn",
      format: winston.format.json(),
      transports: [
        new winston.transports.Stream({
          stream: new Writable({
            write(chunk: Buffer, _encoding, done) {
              lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
              done();
            },
          }),
        }),
      ],
    });
    server = await startServer({ ICE_TIMEOUT_MS: "1000" }, 0, logger);
    client = new SignalingClient(server.url);
    await client.connected();
    const joined = await client.join({ roomId: "ice-fails", userId: "alice" });
    // The offer's candidate points at a socket that is closed by now: no check can ever succeed.
    const sdp = await closedOffer((pc) => pc.addTransceiver("audio"), { waitForGathering: true });
    const remote = /a=candidate:\S+ 1 udp \d+ (127\.0\.0\.1) (\d+) typ host/.exec(sdp)!;
    const ack = await client.request("offer", { type: "offer", sdp });
    expect(ack.ok).to.equal(true);
    await client.waitForEvent("error", (e) => e.code === "NEGOTIATION_FAILED", 10_000);

    const line = lines.find((l) => l.message === "ICE did not connect in time");
    expect(line, "the failure is logged").to.not.equal(undefined);
    expect(line).to.include({ peerId: joined.peerId, roomId: "ice-fails" });
    const candidates = line!.candidates as { local: string[]; remote: string[] };
    expect(candidates.local).to.have.length.greaterThan(0);
    for (const local of candidates.local) expect(local).to.match(/^host udp 127\.0\.0\.1:\d+$/);
    expect(candidates.remote).to.deep.equal([`host udp ${remote[1]}:${remote[2]}`]);
  });
});
