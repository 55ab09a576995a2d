/**
 * Node's `dgram` resolves the destination of every unconnected `send`, even an
 * IP literal, with the socket's lookup (`dns.lookup` unless the socket was
 * created with its own): for a literal that is a closure, argument checks and
 * a `process.nextTick` per datagram before the datagram reaches the kernel.
 * The SFU sends every forwarded packet to an IP literal (the selected ICE
 * pair's remote address) on a socket werift created, so it cannot pass a
 * `lookup` option; instead the socket's internal lookup is wrapped, here and
 * only here, to answer literals at once. Node 20 and 22 keep it at
 * `socket[Symbol("state symbol")].handle.lookup(address, callback)`;
 * test/media/udpLookup.test.ts fails if a Node upgrade moves it.
 */
import type { Socket } from "node:dgram";
import { isIP } from "node:net";

type LookupCallback = (error: Error | null, address?: string, family?: number) => void;
type HandleLookup = (address: string, callback: LookupCallback) => void;

interface SocketState {
  handle?: { lookup?: HandleLookup } | null;
}

const wrapped = new WeakSet<object>();

/**
 * Makes `socket` send to IP literals without a lookup; names still go to the
 * socket's own lookup. Idempotent. Returns false (and changes nothing) when
 * this Node keeps the socket's lookup elsewhere, or the socket is closed.
 */
export function skipLookupForIpLiterals(socket: Socket): boolean {
  const handle = socketState(socket)?.handle;
  if (!handle) return false;
  if (wrapped.has(handle)) return true;
  const lookup = handle.lookup;
  if (typeof lookup !== "function") return false;
  // A socket sends to one remote literal over and over: remember it, and skip even isIP's regex.
  let lastLiteral = "";
  let lastFamily = 0;
  // The answer dns.lookup gives a literal (the address and its family), without the tick.
  handle.lookup = (address: string, callback: LookupCallback): void => {
    if (address === lastLiteral) return callback(null, address, lastFamily);
    const family = isIP(address);
    if (family === 0) return lookup.call(handle, address, callback);
    lastLiteral = address;
    lastFamily = family;
    callback(null, address, family);
  };
  wrapped.add(handle);
  return true;
}

/** Node's per-socket state (`lib/internal/dgram.js` kStateSymbol), found by its symbol's description. */
function socketState(socket: Socket): SocketState | undefined {
  const symbol = Object.getOwnPropertySymbols(socket).find((s) => s.description === "state symbol");
  if (symbol === undefined) return undefined;
  const state = (socket as unknown as Record<symbol, unknown>)[symbol];
  return typeof state === "object" && state !== null ? state : undefined;
}
