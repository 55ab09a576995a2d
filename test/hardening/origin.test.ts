import { expect } from "chai";
import { io } from "socket.io-client";
import request from "supertest";
import { SFU_NAMESPACE } from "../../lib/protocol.js";
import { useSfu } from "../helpers/fixture.js";
import { waitFor } from "../helpers/wait.js";

const ALLOWED = "https://app.example";

/** Opens a signaling socket with `origin` as its Origin header; resolves with how the handshake ended. */
function handshake(
  url: string,
  transport: "websocket" | "polling",
  origin: string | undefined,
): Promise<string> {
  const socket = io(`${url}${SFU_NAMESPACE}`, {
    transports: [transport],
    forceNew: true,
    reconnection: false,
    extraHeaders: origin === undefined ? {} : { origin },
  });
  return new Promise<string>((resolve) => {
    socket.once("connect", () => resolve("connected"));
    socket.once("connect_error", (error: Error & { data?: { code?: string } }) =>
      resolve(error.data?.code ?? error.message),
    );
  }).finally(() => socket.close());
}

describe("CORS_ORIGINS on HTTP and on the signaling handshake", function () {
  this.timeout(20_000);
  const sfu = useSfu({ CORS_ORIGINS: ALLOWED }, { per: "suite" });

  for (const transport of ["websocket", "polling"] as const) {
    it(`refuses a ${transport} handshake from a foreign origin, admits the allowed one and clients without an Origin`, async () => {
      expect(await handshake(sfu.server.url, transport, "https://evil.example")).to.equal("UNAUTHORIZED");
      expect(await handshake(sfu.server.url, transport, ALLOWED)).to.equal("connected");
      expect(await handshake(sfu.server.url, transport, undefined)).to.equal("connected");
      await waitFor(() => sfu.server.application.signaling.connectionCount === 0, 5_000, "sockets to close");
    });
  }

  it("grants HTTP CORS to the allowed origin only", async () => {
    const allowed = await request(sfu.server.url).get("/health").set("Origin", ALLOWED).expect(200);
    expect(allowed.headers["access-control-allow-origin"]).to.equal(ALLOWED);
    const foreign = await request(sfu.server.url).get("/health").set("Origin", "https://evil.example");
    expect(foreign.headers["access-control-allow-origin"]).to.equal(undefined);
  });
});
