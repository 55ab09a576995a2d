import { MediaClient, type MediaClientOptions } from "./MediaClient.js";
import { startServer, type TestServer } from "./server.js";

export interface SfuFixture {
  readonly server: TestServer;
  /** Joins a werift media client; it is closed after the test. */
  join(roomId: string, userId: string, options?: Partial<MediaClientOptions>): Promise<MediaClient>;
}

/** Registers mocha hooks that start a fresh SFU per test and close it and its clients afterwards. */
export function useSfu(env: Record<string, string> = {}): SfuFixture {
  let server: TestServer | undefined;
  const clients: MediaClient[] = [];
  beforeEach(async () => {
    server = await startServer(env);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await server?.close();
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
  };
}
