import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";
import { startServer, type TestServer } from "../helpers/server.js";
import { DemoPage } from "./DemoPage.js";

// CHROMIUM_PATH lets CI machines point at their own Chromium or Chrome build.
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const CHROMIUM_ARGS = [
  "--use-fake-device-for-media-stream",
  "--use-fake-ui-for-media-stream",
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

export interface DemoBrowser {
  readonly server: TestServer;
  /** Every page this test opened, in order. */
  readonly pages: readonly DemoPage[];
  /** Opens the demo page on the current server; it is closed after the test. */
  open(room: string, name: string, userId?: string): Promise<DemoPage>;
  /** Stops the SFU, runs `whileDown`, and starts it again on the same port, as a restarted SFU comes back. */
  restartServer(whileDown: () => Promise<void>): Promise<void>;
}

/**
 * Registers mocha hooks for one headless Chromium per suite (fake microphone)
 * and a fresh SFU per test; pages and server are closed after each test, and a
 * failed test prints the pages' last console lines.
 */
export function useDemoBrowser(env: Record<string, string> = {}): DemoBrowser {
  let browser: Browser | undefined;
  let server: TestServer | undefined;
  let pages: DemoPage[] = [];

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      // CI installs Chromium (.ci/run); there a missing browser is a failure, not a skip.
      if (process.env.CI)
        throw new Error(`${CHROMIUM} is absent; install it with: apt-get install -y chromium`);
      console.log(`    skipping: ${CHROMIUM} is absent (install it with: apt-get install -y chromium)`);
      this.skip();
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close();
  });

  beforeEach(async () => {
    server = await startServer(env);
  });

  afterEach(async function () {
    if (this.currentTest?.state === "failed") {
      for (const page of pages) console.log(page.console.slice(-40).join("\n"));
    }
    await Promise.all(pages.map((page) => page.close()));
    pages = [];
    await server?.close();
    server = undefined;
  });

  const running = (): TestServer => {
    if (!server) throw new Error("the SFU is not running");
    return server;
  };

  return {
    get server() {
      return running();
    },
    get pages() {
      return pages;
    },
    async open(room, name, userId) {
      if (!browser) throw new Error("Chromium is not running");
      const page = await DemoPage.open(browser, running().url, room, name, userId);
      pages.push(page);
      return page;
    },
    async restartServer(whileDown) {
      const port = Number(new URL(running().url).port);
      await running().close();
      server = undefined;
      await whileDown();
      server = await startServer(env, port);
    },
  };
}
