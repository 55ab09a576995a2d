import type { AddressInfo } from "node:net";
import { createRootLogger, createSilentLogger, type LogLevel } from "../../lib/logger.js";
import { SfuService } from "../../lib/sfu/SfuService.js";
import { createApplication, type Application } from "../../server/app.js";
import { loadConfig } from "../../server/config.js";

export interface TestServer {
  url: string;
  application: Application;
  /** The forwarding service, for tests that look inside it; only without SFU_WORKERS. */
  readonly service: SfuService;
  close: () => Promise<void>;
}

/** Environment every test server starts from: loopback media, no STUN, quiet logs. */
export const TEST_ENV = {
  PORT: "0",
  STUN_SERVERS: "",
  ICE_ADVERTISE_IP: "127.0.0.1",
  ALLOW_PRIVATE_CANDIDATES: "true",
  LOG_LEVEL: "error",
  RECONNECT_GRACE_MS: "2000",
} as const;

/** Starts the real application on 127.0.0.1 and a free port (or `port`, as a restarted SFU comes back). */
export async function startServer(env: Record<string, string> = {}, listenPort = 0): Promise<TestServer> {
  const config = loadConfig({ ...TEST_ENV, ...env });
  // TEST_LOG_LEVEL=debug prints the SFU's logs while a test runs; silent otherwise.
  const level = process.env.TEST_LOG_LEVEL as LogLevel | undefined;
  const logger = level ? createRootLogger(level) : createSilentLogger();
  const application = createApplication({ config, logger, defaultMetrics: false });
  await new Promise<void>((resolve, reject) => {
    application.httpServer.once("error", reject);
    application.httpServer.listen(listenPort, "127.0.0.1", resolve);
  });
  const { port } = application.httpServer.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    application,
    get service() {
      if (!(application.sfu instanceof SfuService)) throw new Error("the SFU runs forwarding workers");
      return application.sfu;
    },
    close: () => application.close(),
  };
}
