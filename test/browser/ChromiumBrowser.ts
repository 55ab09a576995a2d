import { chromium, type Browser } from "playwright-core";
import { ChromiumPage } from "./ChromiumPage.js";
import { requireInstalled, type BrowserInstall, type PageLog, type TestBrowser } from "./TestPage.js";

/** Debian's Chromium; CHROMIUM_PATH points at another Chromium or Chrome build. */
export const CHROMIUM: BrowserInstall = {
  label: "Chromium",
  executable: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  debianPackage: "chromium",
  variable: "CHROMIUM_PATH",
};

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

/** Headless Chromium with a fake microphone, driven by Playwright. */
export class ChromiumBrowser implements TestBrowser {
  readonly name = "chromium";
  readonly #browser: Browser;
  #closed = false;

  private constructor(browser: Browser) {
    this.#browser = browser;
  }

  static async launch(): Promise<ChromiumBrowser> {
    requireInstalled(CHROMIUM);
    return new ChromiumBrowser(
      await chromium.launch({ executablePath: CHROMIUM.executable, args: CHROMIUM_ARGS }),
    );
  }

  async newPage(log: PageLog): Promise<ChromiumPage> {
    const context = await this.#browser.newContext({ viewport: { width: 640, height: 600 } });
    return new ChromiumPage(await context.newPage(), context, log);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Playwright removes the profile it created.
    await this.#browser.close();
  }
}
