import type { BrowserContext, Page } from "playwright-core";
import type { PageFunction, PageLog, TestPage } from "./TestPage.js";

/** A Chromium page in its own browser context, driven by Playwright over CDP. */
export class ChromiumPage implements TestPage {
  readonly browserName = "chromium";
  readonly #context: BrowserContext;
  readonly #page: Page;

  constructor(context: BrowserContext, page: Page, log: PageLog) {
    this.#context = context;
    this.#page = page;
    page.on("console", (message) => log(`${message.type()}: ${message.text()}`));
    page.on("pageerror", (error) => log(`pageerror: ${error.message}`));
  }

  async goto(url: string): Promise<void> {
    await this.#page.goto(url);
  }

  async addInitScript<Arg>(fn: (arg: Arg) => void, arg: Arg): Promise<void> {
    await this.#page.addInitScript(fn as (arg: unknown) => void, arg);
  }

  evaluate<R, Arg = undefined>(fn: PageFunction<Arg, R>, arg?: Arg): Promise<R> {
    // Playwright's own argument typing (Unboxed<Arg>) cannot be met by a generic Arg.
    return this.#page.evaluate<R>(fn as string, arg);
  }

  async waitForFunction<Arg>(
    fn: PageFunction<Arg, unknown>,
    arg?: Arg,
    options: { timeout?: number } = {},
  ): Promise<void> {
    await this.#page.waitForFunction(fn as string, arg, options);
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
