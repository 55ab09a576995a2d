import type { Page } from "puppeteer-core";
import { TestPage, type PageFunction } from "./TestPage.js";

/** Polls instead of waiting for animation frames, which a headless background page may not get. */
const POLL_MS = 100;

/** A Firefox page in its own browser context, driven by Puppeteer over WebDriver BiDi. */
export class FirefoxPage extends TestPage<Page> {
  readonly browserName = "firefox";

  async addInitScript<Arg>(fn: (arg: Arg) => void, arg: Arg): Promise<void> {
    await this.driver.evaluateOnNewDocument(fn, arg);
  }

  evaluate<R, Arg = undefined>(fn: PageFunction<Arg, R>, arg?: Arg): Promise<R> {
    // Puppeteer's argument typing (FlattenHandle<Arg>) cannot be met by a generic Arg.
    return (
      typeof fn === "string" ? this.driver.evaluate(fn) : this.driver.evaluate(fn as (arg: unknown) => R, arg)
    ) as Promise<R>;
  }

  async waitForFunction<Arg>(
    fn: PageFunction<Arg, unknown>,
    arg?: Arg,
    options: { timeout?: number } = {},
  ): Promise<void> {
    const waitOptions = { polling: POLL_MS, ...options };
    await (typeof fn === "string"
      ? this.driver.waitForFunction(fn, waitOptions)
      : this.driver.waitForFunction(fn as (arg: unknown) => unknown, waitOptions, arg));
  }
}
