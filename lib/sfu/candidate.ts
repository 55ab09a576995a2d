import { BlockList, isIP } from "node:net";
import { BadRequestError } from "../errors.js";

/** The fields of an ICE candidate line that the SFU checks and filters on. */
export interface ParsedCandidate {
  foundation: string;
  component: number;
  transport: "udp" | "tcp";
  priority: number;
  address: string;
  port: number;
  type: "host" | "srflx" | "prflx" | "relay";
}

const CANDIDATE_TYPES = new Set(["host", "srflx", "prflx", "relay"]);
const ICE_CHARS = /^[A-Za-z0-9+/]{1,32}$/;
const MDNS_NAME = /^[A-Za-z0-9-]{1,63}\.local$/;
const UINT = /^\d{1,10}$/;

/**
 * Parses an RFC 8839 `candidate:` attribute value strictly.
 * werift accepts junk such as a non-numeric port, so every remote candidate
 * (trickled or inside an SDP) passes through here first.
 */
export function parseCandidate(line: string): ParsedCandidate {
  const value = line.startsWith("a=") ? line.slice(2) : line;
  if (!value.startsWith("candidate:")) throw new BadRequestError("candidate must start with 'candidate:'");
  const parts = value.slice("candidate:".length).trim().split(/\s+/);
  const [foundation, component, transport, priority, address, port, typ, type] = parts;
  if (parts.length < 8 || typ !== "typ") throw new BadRequestError("candidate is missing fields");
  if (!ICE_CHARS.test(foundation!)) throw new BadRequestError("candidate foundation is invalid");
  const componentNumber = parseUint(component!, 1, 256, "component");
  const proto = transport!.toLowerCase();
  if (proto !== "udp" && proto !== "tcp") throw new BadRequestError("candidate transport must be udp or tcp");
  const priorityNumber = parseUint(priority!, 0, 0xffffffff, "priority");
  if (isIP(address!) === 0 && !MDNS_NAME.test(address!)) {
    throw new BadRequestError("candidate address must be an IP address or an mDNS name");
  }
  const portNumber = parseUint(port!, 0, 65535, "port");
  if (!CANDIDATE_TYPES.has(type!)) throw new BadRequestError("candidate type is unknown");
  // Trailing extension attributes come in name/value pairs.
  if ((parts.length - 8) % 2 !== 0) throw new BadRequestError("candidate extension attributes are unpaired");
  return {
    foundation: foundation!,
    component: componentNumber,
    transport: proto,
    priority: priorityNumber,
    address: address!,
    port: portNumber,
    type: type as ParsedCandidate["type"],
  };
}

function parseUint(text: string, min: number, max: number, name: string): number {
  if (!UINT.test(text)) throw new BadRequestError(`candidate ${name} must be a number`);
  const value = Number(text);
  if (value < min || value > max) throw new BadRequestError(`candidate ${name} is out of range`);
  return value;
}

/**
 * Ranges a public SFU must not be steered towards by a client. BlockList
 * matches IPv4-mapped IPv6 (`::ffff:7f00:1`) and non-canonical spellings
 * (`0:0:0:0:0:0:0:1`) against these rules too, which string prefixes did not.
 */
const PRIVATE_RANGES = (() => {
  const list = new BlockList();
  const v4: Array<[string, number]> = [
    ["0.0.0.0", 8], // "this" network, unspecified
    ["10.0.0.0", 8],
    ["100.64.0.0", 10], // CGNAT
    ["127.0.0.0", 8],
    ["169.254.0.0", 16],
    ["172.16.0.0", 12],
    ["192.0.0.0", 24], // IETF protocol assignments
    ["192.168.0.0", 16],
    ["198.18.0.0", 15], // benchmarking
    ["224.0.0.0", 3], // multicast, reserved, broadcast
  ];
  const v6: Array<[string, number]> = [
    ["::", 96], // unspecified, loopback and IPv4-compatible addresses
    ["64:ff9b:1::", 48], // local-use NAT64
    ["fc00::", 7], // unique local
    ["fe80::", 10], // link-local
    ["fec0::", 10], // deprecated site-local
    ["ff00::", 8], // multicast
  ];
  for (const [network, prefix] of v4) {
    list.addSubnet(network, prefix, "ipv4");
    // The same range behind the well-known NAT64 prefix (RFC 6052), which a NAT64 gateway would reach.
    list.addSubnet(`64:ff9b::${network}`, 96 + prefix, "ipv6");
  }
  for (const [network, prefix] of v6) list.addSubnet(network, prefix, "ipv6");
  return list;
})();

/**
 * True for addresses a public SFU must not be steered towards by a client:
 * loopback, link-local, private (RFC 1918, RFC 4193), CGNAT, unspecified and
 * multicast ranges, in any IPv4 or IPv6 spelling, also when embedded in the
 * well-known NAT64 prefix (`64:ff9b::10.0.0.1`). mDNS names are resolved by
 * the client's LAN only, so they count as private too, as do scoped (`%zone`)
 * IPv6 addresses.
 */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return PRIVATE_RANGES.check(address, "ipv4");
  if (family === 6) return address.includes("%") || PRIVATE_RANGES.check(address, "ipv6");
  return true;
}

/**
 * The mid that carries a bundled session's one ICE transport: the first mid
 * of the BUNDLE group, or the first live m-section's mid without one.
 */
export function bundleMid(sdp: string): string | undefined {
  const lines = sdp.split(/\r?\n/);
  const group = lines.find((l) => l.startsWith("a=group:BUNDLE "))?.split(" ")[1];
  if (group) return group;
  let live = false;
  for (const line of lines) {
    if (line.startsWith("m=")) live = line.split(" ")[1] !== "0";
    else if (live && line.startsWith("a=mid:")) return line.slice("a=mid:".length);
  }
  return undefined;
}

/** The remote ICE username fragment of a description: it changes with every ICE restart. */
export function iceUfrag(sdp: string): string | undefined {
  return /^a=ice-ufrag:(\S+)/m.exec(sdp)?.[1];
}
