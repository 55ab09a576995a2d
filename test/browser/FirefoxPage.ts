import type { BrowserContext, Page } from "puppeteer-core";
import type { PageFunction, PageLog, TestPage } from "./TestPage.js";

/** Polls instead of waiting for animation frames, which a headless background page may not get. */
const POLL_MS = 100;

/** A Firefox page in its own browser context, driven by Puppeteer over WebDriver BiDi. */
export class FirefoxPage implements TestPage {
  readonly browserName = "firefox";
  readonly #context: BrowserContext;
  readonly #page: Page;

  constructor(context: BrowserContext, page: Page, log: PageLog) {
    this.#context = context;
    this.#page = page;
    page.on("console", (message) => log(`${message.type()}: ${message.text()}`));
    page.on("pageerror", (error) =>
      log(`pageerror: ${error instanceof Error ? error.message : String(error)}`),
    );
  }

  async goto(url: string): Promise<void> {
    await this.#page.goto(url);
  }

  async addInitScript<Arg>(fn: (arg: Arg) => void, arg: Arg): Promise<void> {
    await this.#page.evaluateOnNewDocument(fn, arg);
  }

  evaluate<R, Arg = undefined>(fn: PageFunction<Arg, R>, arg?: Arg): Promise<R> {
    // Puppeteer's argument typing (FlattenHandle<Arg>) cannot be met by a generic Arg.
    return (
      typeof fn === "string" ? this.#page.evaluate(fn) : this.#page.evaluate(fn as (arg: unknown) => R, arg)
    ) as Promise<R>;
  }

  async waitForFunction<Arg>(
    fn: PageFunction<Arg, unknown>,
    arg?: Arg,
    options: { timeout?: number } = {},
  ): Promise<void> {
    const waitOptions = { polling: POLL_MS, ...options };
    await (typeof fn === "string"
      ? this.#page.waitForFunction(fn, waitOptions)
      : this.#page.waitForFunction(fn as (arg: unknown) => unknown, waitOptions, arg));
  }

  async waitForSelector(selector: string, options: { timeout?: number } = {}): Promise<void> {
    await this.#page.waitForSelector(selector, options);
  }

  click(selector: string): Promise<void> {
    return this.#page.click(selector);
  }

  async screenshot(options: { path: string; fullPage?: boolean }): Promise<void> {
    await this.#page.screenshot(options);
  }

  close(): Promise<void> {
    return this.#context.close();
  }
}
