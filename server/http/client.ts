import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { Router, type Response } from "express";
import type { Logger } from "../../lib/logger.js";
import { findPackageRoot } from "../packageRoot.js";

/** A built browser asset, by the URL path it is served at. */
type Assets = Map<string, { type: string; body: Buffer }>;

export interface ClientRouterOptions {
  /** The package root (holding lib/client and dist/client); found from this file by default. */
  root?: string;
  /** `dist`: only the output of `npm run build:client`; `source`: always build from lib/client; `auto` (default): dist when it is up to date, else source. */
  bundle?: "auto" | "dist" | "source";
  logger?: Logger;
}

/** Bundles loaded or being built in this process, by mode and package root. */
const loaded = new Map<string, Promise<Assets>>();

/** Files `npm run build:client` writes into dist/client, and the URL paths they are served at. */
const BUILT_FILES = ["sfu-client.js", "sfu-client.js.map", "demo.js", "demo.js.map"];
const STATIC_FILES: Record<string, { file: string; type: string }> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/demo.css": { file: "demo.css", type: "text/css; charset=utf-8" },
};

/**
 * Serves the browser SDK at `/sfu-client.js` and the demo page at `/`.
 *
 * The bundles come from dist/client when `npm run build:client` made them
 * after the last change to the SDK's sources; otherwise (a fresh checkout,
 * `npm run dev`, the tests) they are built in memory with esbuild on the
 * first request for them (once per process; requests wait for that build). Where neither exists
 * (a production install without dev dependencies and no build), the routes
 * answer 503 saying which command to run.
 */
export function createClientRouter(options: ClientRouterOptions = {}): Router {
  const root = options.root ?? packageRoot();
  const logger = options.logger?.child({ component: "client-router" });
  const demoDir = join(root, "lib", "client", "demo");
  const mode = options.bundle ?? "auto";
  // Built on the first request, once per process: tests create many apps that never load the page.
  const assets = () => {
    const key = `${mode}:${root}`;
    let loading = loaded.get(key);
    if (!loading) {
      loading = loadAssets(root, mode, logger);
      loaded.set(key, loading);
    }
    return loading;
  };

  const router = Router();
  for (const [path, { file, type }] of Object.entries(STATIC_FILES)) {
    router.get(path, (_req, res) => {
      const filePath = join(demoDir, file);
      if (!existsSync(filePath)) {
        unavailable(res, `the demo page is missing (${relative(root, filePath)})`);
        return;
      }
      send(res, type, readFileSync(filePath));
    });
  }
  for (const file of BUILT_FILES) {
    const path = `/${file}`;
    router.get(path, (_req, res, next) => {
      assets().then(
        (built) => {
          const asset = built.get(path);
          if (asset) send(res, asset.type, asset.body);
          else next();
        },
        (error: unknown) => unavailable(res, `the browser SDK could not be built: ${describe(error)}`),
      );
    });
  }
  return router;
}

/**
 * Builds the SDK bundle and the demo script with esbuild, in memory. Same
 * options as the `build:client` npm script, which writes them to dist/client.
 */
export async function buildClientBundle(root: string = packageRoot()): Promise<Assets> {
  const esbuild = await import("esbuild");
  const result = await esbuild.build({
    entryPoints: {
      "sfu-client": join(root, "lib", "client", "index.ts"),
      demo: join(root, "lib", "client", "demo", "demo.ts"),
    },
    outdir: join(root, "dist", "client"),
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    sourcemap: true,
    write: false,
    logLevel: "silent",
  });
  const assets: Assets = new Map();
  for (const output of result.outputFiles) {
    const name = relative(join(root, "dist", "client"), output.path);
    assets.set(`/${name}`, { type: contentType(name), body: Buffer.from(output.contents) });
  }
  return assets;
}

async function loadAssets(root: string, mode: "auto" | "dist" | "source", logger: Logger | undefined) {
  const distDir = join(root, "dist", "client");
  const sourcesExist = existsSync(join(root, "lib", "client", "index.ts"));
  const useDist =
    mode === "dist" || (mode === "auto" && (!sourcesExist || isUpToDate(distDir, clientSources(root))));
  if (useDist) {
    if (!existsSync(join(distDir, "sfu-client.js"))) {
      throw new Error("dist/client/sfu-client.js is missing; run `npm run build:client`");
    }
    const assets: Assets = new Map();
    for (const file of BUILT_FILES) {
      const path = join(distDir, file);
      if (existsSync(path)) assets.set(`/${file}`, { type: contentType(file), body: readFileSync(path) });
    }
    logger?.debug("serving the browser SDK from dist/client");
    return assets;
  }
  const started = Date.now();
  try {
    const assets = await buildClientBundle(root);
    logger?.info("built the browser SDK from source", { ms: Date.now() - started });
    return assets;
  } catch (error) {
    logger?.error("could not build the browser SDK", { error: describe(error) });
    throw new Error(`${describe(error)} (run \`npm run build:client\` to build it ahead of time)`, {
      cause: error,
    });
  }
}

/** The TypeScript files the bundles are built from. */
function clientSources(root: string): string[] {
  const dir = join(root, "lib", "client");
  const files = readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((entry) => entry.endsWith(".ts"))
    .map((entry) => join(dir, entry));
  // The SDK's imports from outside lib/client.
  return [...files, join(root, "lib", "protocol.ts"), join(root, "lib", "util", "TypedEmitter.ts")];
}

/** True when both bundles in `distDir` are newer than every source file. */
function isUpToDate(distDir: string, sources: string[]): boolean {
  const bundle = join(distDir, "sfu-client.js");
  const demo = join(distDir, "demo.js");
  if (!existsSync(bundle) || !existsSync(demo)) return false;
  const built = Math.min(statSync(bundle).mtimeMs, statSync(demo).mtimeMs);
  return sources.every((file) => !existsSync(file) || statSync(file).mtimeMs <= built);
}

function send(res: Response, type: string, body: Buffer): void {
  // Revalidate every time: the bundle changes with every deploy and ETags keep it cheap.
  res.set("Cache-Control", "no-cache").type(type).send(body);
}

function unavailable(res: Response, message: string): void {
  res.status(503).type("text/plain; charset=utf-8").send(`${message}\n`);
}

function contentType(file: string): string {
  if (file.endsWith(".map")) return "application/json; charset=utf-8";
  return "text/javascript; charset=utf-8";
}

/** The package root, holding lib/client and dist/client. */
function packageRoot(): string {
  const root = findPackageRoot();
  if (root === undefined) throw new Error("package.json not found above the client router");
  return root;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
