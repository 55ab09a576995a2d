import { once } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import puppeteer, { type Browser } from "puppeteer-core";
import { FirefoxPage } from "./FirefoxPage.js";
import { requireInstalled, type BrowserInstall, type PageLog, type TestBrowser } from "./TestPage.js";

/** Debian's Firefox ESR; FIREFOX_PATH points at another Firefox build. */
export const FIREFOX: BrowserInstall = {
  label: "Firefox",
  executable: process.env.FIREFOX_PATH ?? "/usr/bin/firefox-esr",
  debianPackage: "firefox-esr",
  variable: "FIREFOX_PATH",
};

/** Preferences for a headless Firefox that talks to an SFU on loopback with a fake microphone. */
const FIREFOX_PREFS = {
  // getUserMedia gets a generated tone instead of a sound card's input.
  "media.navigator.streams.fake": true,
  // No permission prompt, and the microphone allowed for every origin.
  "media.navigator.permission.disabled": true,
  "permissions.default.microphone": 1,
  // Gather 127.0.0.1 candidates: the test SFU listens on loopback only.
  "media.peerconnection.ice.loopback": true,
  // Real host addresses, not mDNS names the SFU does not resolve (a page without microphone access gets those).
  "media.peerconnection.ice.obfuscate_host_addresses": false,
  // A mock audio output: with no sound card AudioContext.resume() stays pending and the demo's level bars stay empty.
  "media.cubeb.force_mock_context": true,
};

/**
 * Headless Firefox driven by Puppeteer over WebDriver BiDi, in a fresh
 * profile directory that `close()` removes.
 */
export class FirefoxBrowser implements TestBrowser {
  readonly name = "firefox";
  readonly #browser: Browser;
  readonly #profile: string;
  #closed = false;

  private constructor(browser: Browser, profile: string) {
    this.#browser = browser;
    this.#profile = profile;
  }

  static async launch(): Promise<FirefoxBrowser> {
    requireInstalled(FIREFOX);
    const profile = await mkdtemp(join(tmpdir(), "sfu-test-firefox-"));
    try {
      const browser = await puppeteer.launch({
        browser: "firefox",
        protocol: "webDriverBiDi",
        executablePath: FIREFOX.executable,
        headless: true,
        userDataDir: profile,
        extraPrefsFirefox: FIREFOX_PREFS,
      });
      return new FirefoxBrowser(browser, profile);
    } catch (error) {
      await rm(profile, { recursive: true, force: true });
      throw error;
    }
  }

  async newPage(log: PageLog): Promise<FirefoxPage> {
    const context = await this.#browser.createBrowserContext();
    const page = await context.newPage();
    await page.setViewport({ width: 640, height: 600 });
    return new FirefoxPage(page, context, log);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#browser.close();
    } catch {
      // A browser that no longer answers is ended by its pid, before its profile is removed.
      const process = this.#browser.process();
      if (process && process.exitCode === null && process.signalCode === null) {
        const exited = once(process, "exit");
        process.kill("SIGKILL");
        await exited;
      }
    } finally {
      await rm(this.#profile, { recursive: true, force: true, maxRetries: 3 });
    }
  }
}
