import type { Logger } from "../../lib/logger.js";
import { MediaClient, type MediaClientOptions } from "./MediaClient.js";
import { startServer, type TestServer } from "./server.js";
import { SignalingClient } from "./SignalingClient.js";

export interface SfuFixture {
  readonly server: TestServer;
  /** Joins a werift media client; it is closed after the test (or the suite, with `per: "suite"`). */
  join(roomId: string, userId: string, options?: Partial<MediaClientOptions>): Promise<MediaClient>;
  /** Opens a bare signaling socket and waits until it is connected; it is closed like a media client. */
  connect(options?: { transports?: string[] }): Promise<SignalingClient>;
  /** Replaces the running SFU with one whose environment also has `env`, for a test that needs its own. */
  restart(env: Record<string, string>): Promise<TestServer>;
}

export interface SfuFixtureOptions {
  /** "test" (default): a fresh SFU for every test; "suite": one for the whole `describe`. */
  per?: "test" | "suite";
  /** The SFU's logger, for tests that read its logs. */
  logger?: Logger;
}

/**
 * Registers mocha hooks that start the SFU and, afterwards, close its clients
 * and sockets and then the SFU; a media client that saw a refused ack or a
 * failed renegotiation fails the test.
 */
export function useSfu(env: Record<string, string> = {}, options: SfuFixtureOptions = {}): SfuFixture {
  let server: TestServer | undefined;
  const clients: MediaClient[] = [];
  const sockets: SignalingClient[] = [];
  const suite = options.per === "suite";

  const start = async (extra: Record<string, string> = {}) => {
    server = await startServer({ ...env, ...extra }, 0, options.logger);
    return server;
  };
  const stop = async (currentTest: Mocha.Test | undefined) => {
    const closing = clients.splice(0);
    const failures = closing.flatMap((c) => c.failures.map((f) => `${c.options.userId}: ${f}`));
    await Promise.all(closing.map((c) => c.close()));
    for (const socket of sockets.splice(0)) socket.close();
    await server?.close();
    server = undefined;
    // A refused candidate or answer fails the test even when its audio got through.
    if (failures.length > 0 && currentTest?.state !== "failed")
      throw new Error(`media clients saw failures: ${failures.join("; ")}`);
  };
  (suite ? before : beforeEach)(() => start());
  (suite ? after : afterEach)(async function () {
    await stop(this.currentTest);
  });

  const running = () => {
    if (!server) throw new Error("the SFU is not running");
    return server;
  };
  return {
    get server() {
      return running();
    },
    async join(roomId, userId, joinOptions = {}) {
      const client = await MediaClient.join(running().url, { roomId, userId, ...joinOptions });
      clients.push(client);
      return client;
    },
    async connect(socketOptions = {}) {
      const socket = new SignalingClient(running().url, socketOptions);
      sockets.push(socket);
      await socket.connected();
      return socket;
    },
    async restart(extra) {
      await running().close();
      return start(extra);
    },
  };
}
