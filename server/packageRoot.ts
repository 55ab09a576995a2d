import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The nearest directory above this module that holds package.json: the
 * package root, from server/ (tsx) and from dist/server/ (built) alike.
 */
export function findPackageRoot(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
  return dir;
}

/** The package version, or "0.0.0" where no package.json is found. */
export function readVersion(): string {
  const root = findPackageRoot();
  if (root === undefined) return "0.0.0";
  return (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;
}
