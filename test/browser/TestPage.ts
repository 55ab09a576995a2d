import { existsSync } from "node:fs";

/** The browser engines the suite drives. */
export type BrowserName = "chromium" | "firefox";

/**
 * A function run inside the page, or its source. It cannot call helpers
 * defined in the test: only its own text reaches the page.
 */
export type PageFunction<Arg, R> = string | ((arg: Arg) => R | Promise<R>);

/**
 * What the browser tests do with a page, the same whether Playwright drives
 * Chromium or Puppeteer drives Firefox, so one test can mix both.
 */
export interface TestPage {
  readonly browserName: BrowserName;
  goto(url: string): Promise<void>;
  /** Runs `fn(arg)` in every document the page loads from now on, before its own scripts. */
  addInitScript<Arg>(fn: (arg: Arg) => void, arg: Arg): Promise<void>;
  evaluate<R, Arg = undefined>(fn: PageFunction<Arg, R>, arg?: Arg): Promise<R>;
  /** Waits until `fn(arg)` is truthy in the page. */
  waitForFunction<Arg>(
    fn: PageFunction<Arg, unknown>,
    arg?: Arg,
    options?: { timeout?: number },
  ): Promise<void>;
  waitForSelector(selector: string, options?: { timeout?: number }): Promise<void>;
  click(selector: string): Promise<void>;
  screenshot(options: { path: string; fullPage?: boolean }): Promise<void>;
  /** Closes the page and its browser context (its storage goes with it). */
  close(): Promise<void>;
}

/** Where a page's console lines and errors go. */
export type PageLog = (line: string) => void;

/** A running browser that opens each page in a fresh browser context. */
export interface TestBrowser {
  readonly name: BrowserName;
  newPage(log: PageLog): Promise<TestPage>;
  /** Ends the browser and removes what it left on disk; idempotent. */
  close(): Promise<void>;
}

/** How a browser the suite needs is found and installed. */
export interface BrowserInstall {
  label: string;
  executable: string;
  /** The Debian package that provides it. */
  debianPackage: string;
  /** The variable that points the suite at another binary. */
  variable: string;
}

/** Throws, saying how to install it, when the browser binary is missing: a browser test never skips. */
export function requireInstalled(install: BrowserInstall): void {
  if (existsSync(install.executable)) return;
  throw new Error(
    `${install.label} is not at ${install.executable}; install it with \`apt-get install -y ${install.debianPackage}\`` +
      ` or set ${install.variable} to the binary to use`,
  );
}
