import { MediaClient, type MediaClientOptions } from "./MediaClient.js";
import { startServer, type TestServer } from "./server.js";
import { SignalingClient } from "./SignalingClient.js";

export interface SfuFixture {
  readonly server: TestServer;
  /** Joins a werift media client; it is closed after the test. */
  join(roomId: string, userId: string, options?: Partial<MediaClientOptions>): Promise<MediaClient>;
  /** Opens a bare signaling socket and waits until it is connected; it is closed after the test. */
  connect(options?: { transports?: string[] }): Promise<SignalingClient>;
}

/** Registers mocha hooks that start a fresh SFU per test and close it and its clients afterwards. */
export function useSfu(env: Record<string, string> = {}): SfuFixture {
  let server: TestServer | undefined;
  const clients: MediaClient[] = [];
  const sockets: SignalingClient[] = [];
  beforeEach(async () => {
    server = await startServer(env);
  });
  afterEach(async function () {
    const closing = clients.splice(0);
    const failures = closing.flatMap((c) => c.failures.map((f) => `${c.options.userId}: ${f}`));
    await Promise.all(closing.map((c) => c.close()));
    for (const socket of sockets.splice(0)) socket.close();
    await server?.close();
    server = undefined;
    // A refused candidate or answer fails the test even when its audio got through.
    if (failures.length > 0 && this.currentTest?.state !== "failed")
      throw new Error(`media clients saw failures: ${failures.join("; ")}`);
  });
  return {
    get server() {
      if (!server) throw new Error("the SFU is not running");
      return server;
    },
    async join(roomId, userId, options = {}) {
      if (!server) throw new Error("the SFU is not running");
      const client = await MediaClient.join(server.url, { roomId, userId, ...options });
      clients.push(client);
      return client;
    },
    async connect(options = {}) {
      if (!server) throw new Error("the SFU is not running");
      const socket = new SignalingClient(server.url, options);
      sockets.push(socket);
      await socket.connected();
      return socket;
    },
  };
}
