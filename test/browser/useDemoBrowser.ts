import { startServer, type TestServer } from "../helpers/server.js";
import { CHROMIUM, ChromiumBrowser } from "./ChromiumBrowser.js";
import { DemoPage } from "./DemoPage.js";
import { FIREFOX, FirefoxBrowser } from "./FirefoxBrowser.js";
import { requireInstalled, type BrowserName } from "./TestPage.js";

export interface DemoBrowser {
  readonly server: TestServer;
  /** Every page this test opened, in order. */
  readonly pages: readonly DemoPage[];
  /** Opens the demo page in Chromium on the current server; it is closed after the test. */
  open(room: string, name: string, userId?: string): Promise<DemoPage>;
  /** Opens the demo page in the named browser on the current server; it is closed after the test. */
  openIn(browser: BrowserName, room: string, name: string, userId?: string): Promise<DemoPage>;
  /** Stops the SFU, runs `whileDown`, and starts it again on the same port, as a restarted SFU comes back. */
  restartServer(whileDown: () => Promise<void>): Promise<void>;
}

const INSTALLS = { chromium: CHROMIUM, firefox: FIREFOX } as const;

/**
 * Registers mocha hooks for the browsers a suite uses and a fresh SFU per
 * test: one headless Chromium per suite, one headless Firefox (with its own
 * profile) per test that opens a Firefox page. Pages, Firefox and the server
 * are closed after each test, and a failed test prints the pages' last
 * console lines. A browser that is not installed fails the suite.
 */
export function useDemoBrowser(
  env: Record<string, string> | (() => Record<string, string>) = {},
  browsers: readonly BrowserName[] = ["chromium"],
): DemoBrowser {
  // A function is read per test: for settings known only once a before-hook ran (a TURN server's port).
  const envNow = () => (typeof env === "function" ? env() : env);
  let chromium: ChromiumBrowser | undefined;
  // The launch itself, so that pages opened at once share one Firefox.
  let firefox: Promise<FirefoxBrowser> | undefined;
  let server: TestServer | undefined;
  let pages: DemoPage[] = [];

  before(async () => {
    for (const name of browsers) requireInstalled(INSTALLS[name]);
    if (browsers.includes("chromium")) chromium = await ChromiumBrowser.launch();
  });

  after(async () => {
    await chromium?.close();
    chromium = undefined;
  });

  beforeEach(async () => {
    server = await startServer(envNow());
  });

  afterEach(async function () {
    if (this.currentTest?.state === "failed") {
      for (const page of pages) console.log(page.console.slice(-40).join("\n"));
    }
    const closing = pages;
    pages = [];
    const stopping = firefox;
    firefox = undefined;
    try {
      await Promise.allSettled(closing.map((page) => page.close()));
      await (await stopping?.catch(() => undefined))?.close();
    } finally {
      await server?.close();
      server = undefined;
    }
  });

  const running = (): TestServer => {
    if (!server) throw new Error("the SFU is not running");
    return server;
  };

  const openIn = async (
    name: BrowserName,
    room: string,
    displayName: string,
    userId?: string,
  ): Promise<DemoPage> => {
    if (!browsers.includes(name)) throw new Error(`this suite did not ask for ${name}`);
    let browser: ChromiumBrowser | FirefoxBrowser;
    if (name === "chromium") {
      if (!chromium) throw new Error("Chromium is not running");
      browser = chromium;
    } else {
      firefox ??= FirefoxBrowser.launch();
      browser = await firefox;
    }
    const page = await DemoPage.open(browser, running().url, room, displayName, userId);
    pages.push(page);
    return page;
  };

  return {
    get server() {
      return running();
    },
    get pages() {
      return pages;
    },
    open: (room, displayName, userId) => openIn("chromium", room, displayName, userId),
    openIn,
    async restartServer(whileDown) {
      const port = Number(new URL(running().url).port);
      await running().close();
      server = undefined;
      await whileDown();
      server = await startServer(envNow(), port);
    },
  };
}
