import { existsSync } from "node:fs";

/** The browser engines the suite drives. */
export type BrowserName = "chromium" | "firefox";

/**
 * A function run inside the page, or its source. It cannot call helpers
 * defined in the test: only its own text reaches the page.
 */
export type PageFunction<Arg, R> = string | ((arg: Arg) => R | Promise<R>);

/**
 * The calls Playwright's and Puppeteer's pages both answer the same way. The
 * two `on` signatures are separate types: Puppeteer's generic `on` matches
 * each alone but not both as overloads of one.
 */
export type DriverPage = {
  on(event: "console", listener: (message: DriverConsoleMessage) => void): unknown;
} & {
  on(event: "pageerror", listener: (error: unknown) => void): unknown;
} & {
  goto(url: string): Promise<unknown>;
  waitForSelector(selector: string, options: { timeout?: number }): Promise<unknown>;
  click(selector: string): Promise<void>;
  screenshot(options: { path: string; fullPage?: boolean }): Promise<unknown>;
};

/** A console message as both drivers report it. */
export interface DriverConsoleMessage {
  type(): string;
  text(): string;
}

/**
 * What the browser tests do with a page, the same whether Playwright drives
 * Chromium or Puppeteer drives Firefox, so one test can mix both. What the
 * two drivers do alike is here; a subclass adds what each does its own way.
 */
export abstract class TestPage<Driver extends DriverPage = DriverPage> {
  abstract readonly browserName: BrowserName;
  /** The driver's own page, for what each driver does its own way. */
  protected readonly driver: Driver;
  readonly #context: { close(): Promise<void> };

  /** `page` lives in `context`, which {@link close} closes; its console lines and errors go to `log`. */
  constructor(page: Driver, context: { close(): Promise<void> }, log: PageLog) {
    this.driver = page;
    this.#context = context;
    page.on("console", (message) => log(`${message.type()}: ${message.text()}`));
    page.on("pageerror", (error) =>
      log(`pageerror: ${error instanceof Error ? error.message : String(error)}`),
    );
  }

  async goto(url: string): Promise<void> {
    await this.driver.goto(url);
  }

  /** Runs `fn(arg)` in every document the page loads from now on, before its own scripts. */
  abstract addInitScript<Arg>(fn: (arg: Arg) => void, arg: Arg): Promise<void>;

  abstract evaluate<R, Arg = undefined>(fn: PageFunction<Arg, R>, arg?: Arg): Promise<R>;

  /** Waits until `fn(arg)` is truthy in the page. */
  abstract waitForFunction<Arg>(
    fn: PageFunction<Arg, unknown>,
    arg?: Arg,
    options?: { timeout?: number },
  ): Promise<void>;

  async waitForSelector(selector: string, options: { timeout?: number } = {}): Promise<void> {
    await this.driver.waitForSelector(selector, options);
  }

  click(selector: string): Promise<void> {
    return this.driver.click(selector);
  }

  async screenshot(options: { path: string; fullPage?: boolean }): Promise<void> {
    await this.driver.screenshot(options);
  }

  /** Closes the page and its browser context (its storage goes with it). */
  close(): Promise<void> {
    return this.#context.close();
  }
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
