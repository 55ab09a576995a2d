import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import winston from "winston";
import { createRootLogger, createSilentLogger, type Logger, type LogLevel } from "../../lib/logger.js";
import { WorkerPool } from "../../lib/sfu/cluster/WorkerPool.js";
import { SfuService } from "../../lib/sfu/SfuService.js";
import { createApplication, type Application } from "../../server/app.js";
import { loadConfig } from "../../server/config.js";
import { loadSfu, type SfuModules } from "../../server/sfu.js";

/** The classes this file imports: a dynamic import of them would be a second copy under mocha (server/sfu.ts). */
const SFU_MODULES: SfuModules = {
  service: () => Promise.resolve({ SfuService }),
  pool: () => Promise.resolve({ WorkerPool }),
};

export interface TestServer {
  url: string;
  application: Application;
  /** The forwarding service, for tests that look inside it; only without SFU_WORKERS. */
  readonly service: SfuService;
  close: () => Promise<void>;
}

/** TEST_LOG_LEVEL=debug prints the SFU's logs while a test runs; silent otherwise. */
function defaultLogger(): Logger {
  const level = process.env.TEST_LOG_LEVEL as LogLevel | undefined;
  return level ? createRootLogger(level) : createSilentLogger();
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

/**
 * Starts the real application on 127.0.0.1 and a free port (or `port`, as a
 * restarted SFU comes back); `logger` is for tests that read the SFU's logs.
 */
export async function startServer(
  env: Record<string, string> = {},
  listenPort = 0,
  logger = defaultLogger(),
): Promise<TestServer> {
  const config = loadConfig({ ...TEST_ENV, ...env });
  const local = await loadSfu(config, logger, SFU_MODULES);
  const application = createApplication({ config, logger, local, defaultMetrics: false });
  await application.ready;
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

/** A logger that keeps every entry (at info and above) for a test to read. */
export function recordingLogger(): { logger: Logger; entries: Array<Record<string, unknown>> } {
  const entries: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    objectMode: true,
    write(entry: Record<string, unknown>, _encoding, done) {
      entries.push(entry);
      done();
    },
  });
  const logger = winston.createLogger({
    level: "info",
    transports: [new winston.transports.Stream({ stream })],
  });
  return { logger, entries };
}
