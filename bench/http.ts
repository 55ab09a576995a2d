/** Small HTTP and port helpers for the orchestrator (all on 127.0.0.1). */
export { freePort } from "../test/helpers/freePort.js";

/** GET with a timeout; resolves with status and body, never throws on HTTP errors. */
export async function httpGet(url: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return { status: response.status, body: await response.text() };
}

/** The samples of one metric by the value of one label, e.g. prom-client's heap spaces by `space`. */
export function parsePrometheusByLabel(text: string, name: string, label: string): Map<string, number> {
  const values = new Map<string, number>();
  const pattern = new RegExp(`^${name}\\{[^}]*\\b${label}="([^"]*)"[^}]*\\}\\s+(\\S+)`, "gm");
  for (const [, key, value] of text.matchAll(pattern)) {
    const number = Number(value);
    if (Number.isFinite(number)) values.set(key!, number);
  }
  return values;
}

/**
 * Reads the named samples (without labels) from a Prometheus text exposition.
 * Labelled series of the same name are summed, which is what a total wants.
 */
export function parsePrometheus(text: string, names: readonly string[]): Map<string, number> {
  const wanted = new Set(names);
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.length === 0) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const name = match[1]!;
    if (!wanted.has(name)) continue;
    const value = Number(match[3]);
    if (Number.isFinite(value)) values.set(name, (values.get(name) ?? 0) + value);
  }
  return values;
}
