import { createSocket } from "node:dgram";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** A UDP port free on 127.0.0.1 right now (bound, read, released). */
export async function freeUdpPort(): Promise<number> {
  const socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/**
 * The local ports of every UDP socket a process (this one by default) holds,
 * one entry per socket: the socket inodes among /proc/<pid>/fd matched
 * against the kernel's UDP tables.
 */
export function processUdpPorts(pid: number | "self" = "self"): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]!);
    } catch {
      // The fd closed while listing.
    }
  }
  const ports: number[] = [];
  for (const table of ["/proc/net/udp", "/proc/net/udp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10 || !inodes.has(fields[9]!)) continue;
      ports.push(parseInt(fields[1]!.split(":").at(-1)!, 16));
    }
  }
  return ports;
}

/** The kernel's count of datagrams dropped at the UDP socket bound to `port` (receive buffer full), 0 if none. */
export function udpDrops(port: number): number {
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const table of ["/proc/net/udp", "/proc/net/udp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[1]?.endsWith(hexPort)) return Number(fields.at(-1));
    }
  }
  return 0;
}

/** Bytes waiting in the receive queue of the UDP socket bound to `port` (not yet read by its process), 0 if none. */
export function udpReceiveQueueBytes(port: number): number {
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const table of ["/proc/net/udp", "/proc/net/udp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const fields = line.trim().split(/\s+/);
      // Field 4 is tx_queue:rx_queue, in hex.
      if (fields[1]?.endsWith(hexPort)) return parseInt(fields[4]!.split(":")[1]!, 16);
    }
  }
  return 0;
}
