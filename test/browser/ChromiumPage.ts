import type { Page } from "playwright-core";
import { TestPage, type PageFunction } from "./TestPage.js";

/** A Chromium page in its own browser context, driven by Playwright over CDP. */
export class ChromiumPage extends TestPage<Page> {
  readonly browserName = "chromium";

  async addInitScript<Arg>(fn: (arg: Arg) => void, arg: Arg): Promise<void> {
    await this.driver.addInitScript(fn as (arg: unknown) => void, arg);
  }

  evaluate<R, Arg = undefined>(fn: PageFunction<Arg, R>, arg?: Arg): Promise<R> {
    // Playwright's own argument typing (Unboxed<Arg>) cannot be met by a generic Arg.
    return this.driver.evaluate<R>(fn as string, arg);
  }

  async waitForFunction<Arg>(
    fn: PageFunction<Arg, unknown>,
    arg?: Arg,
    options: { timeout?: number } = {},
  ): Promise<void> {
    await this.driver.waitForFunction(fn as string, arg, options);
  }
}
