import { BadRequestError } from "../errors.js";
import { isPrivateAddress, parseCandidate } from "./candidate.js";

/** Bounds on what a client may send as a session description. */
export interface SdpLimits {
  /** Largest SDP accepted, in UTF-16 code units (SDP is ASCII in practice). */
  maxBytes: number;
  /** Most m-sections accepted in one description. */
  maxMediaSections: number;
}

export interface SdpCheckOptions {
  limits: SdpLimits;
  /** Drop candidates that point at private, loopback or link-local addresses. */
  dropPrivateCandidates: boolean;
}

/** What the SFU will hand to werift, and what it learnt on the way. */
export interface CheckedSdp {
  sdp: string;
  /** mids of m-sections the SFU rejected (video, data channels, anything not audio). */
  rejectedMids: string[];
  audioSections: number;
}

const LINE = /^[a-z]=[^\0-\x08\x0a-\x1f\x7f]*$/;
const MEDIA_LINE = /^m=([a-z]+) (\d{1,5})(\/\d{1,5})? ([A-Za-z0-9/_.-]+)((?: [A-Za-z0-9_.-]+)*)$/;
const ICE_UFRAG = /^[A-Za-z0-9+/]{4,256}$/;
const ICE_PWD = /^[A-Za-z0-9+/]{22,256}$/;
const FINGERPRINT = /^[A-Za-z0-9-]{1,16} (?:[0-9A-Fa-f]{2}:)+[0-9A-Fa-f]{2}$/;
const SETUP = new Set(["actpass", "active", "passive", "holdconn"]);
const MID = /^[A-Za-z0-9_.~-]{1,32}$/;

interface Section {
  start: number;
  end: number;
  kind: string;
  port: number;
  mid?: string;
}

/**
 * Checks a client's SDP strictly and returns the text werift should see.
 *
 * werift parses leniently (a non-numeric port, missing credentials, a
 * half-written m-line all go through and can leave negotiation hanging), so
 * everything werift relies on is checked here first. For offers, video
 * m-sections are rejected by setting their port to 0 and dropping them from
 * BUNDLE, so the client gets a clear answer instead of a half-working video
 * line; an offer with a live data-channel m-section is refused.
 */
export function checkSdp(type: "offer" | "answer", sdp: string, options: SdpCheckOptions): CheckedSdp {
  const { limits } = options;
  if (sdp.length === 0) throw new BadRequestError("sdp is empty");
  if (sdp.length > limits.maxBytes) throw new BadRequestError(`sdp is larger than ${limits.maxBytes} bytes`);
  const lines = sdp.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  if (lines[0] !== "v=0") throw new BadRequestError("sdp must start with v=0");
  for (const line of lines) {
    if (!LINE.test(line)) throw new BadRequestError("sdp has a malformed line");
  }

  const sections = splitSections(lines);
  if (sections.length > limits.maxMediaSections) {
    throw new BadRequestError(`sdp has more than ${limits.maxMediaSections} m-sections`);
  }
  const session = lines.slice(0, sections[0]?.start ?? lines.length);
  if (!session.some((l) => l.startsWith("o="))) throw new BadRequestError("sdp is missing the o= line");

  const rejectedMids: string[] = [];
  const dropLines = new Set<number>();
  let audioSections = 0;
  for (const section of sections) {
    const body = lines.slice(section.start + 1, section.end);
    section.mid = attribute(body, "mid");
    if (section.mid !== undefined && !MID.test(section.mid))
      throw new BadRequestError("sdp has an invalid mid");
    if (section.port === 0) continue;
    // werift answers a data-channel m-line with a live SCTP transport even at port 0 (and leaks
    // its socket on close), so an offer that asks for one is refused outright.
    if (section.kind === "application") {
      throw new BadRequestError("this SFU carries audio only: data channels are not supported");
    }
    checkTransport(session, body, section.kind !== "application");
    for (let i = section.start + 1; i < section.end; i++) {
      const line = lines[i]!;
      if (!line.startsWith("a=candidate:")) continue;
      const candidate = parseCandidate(line);
      if (options.dropPrivateCandidates && isPrivateAddress(candidate.address)) dropLines.add(i);
    }
    if (section.kind === "audio") {
      audioSections++;
    } else if (type === "offer") {
      lines[section.start] = lines[section.start]!.replace(/^m=([a-z]+) \d+/, "m=$1 0");
      if (section.mid !== undefined) rejectedMids.push(section.mid);
    } else {
      throw new BadRequestError(`answer accepts a ${section.kind} m-section the SFU never offered`);
    }
  }

  const out: string[] = [];
  lines.forEach((line, i) => {
    if (dropLines.has(i)) return;
    if (rejectedMids.length > 0 && line.startsWith("a=group:BUNDLE")) {
      const kept = line
        .slice("a=group:BUNDLE".length)
        .trim()
        .split(/\s+/)
        .filter((mid) => mid && !rejectedMids.includes(mid));
      out.push(["a=group:BUNDLE", ...kept].join(" "));
      return;
    }
    out.push(line);
  });
  return { sdp: out.join("\r\n") + "\r\n", rejectedMids, audioSections };
}

/**
 * The client's answer to an SFU offer as werift must apply it: every other
 * m-section of a BUNDLE group says the `a=setup` of the group's first live
 * m-section, its answerer BUNDLE-tag. Under BUNDLE only the tag's transport
 * attributes describe the shared transport (RFC 8843), and a later answer
 * keeps the DTLS role already negotiated; Firefox still writes its default
 * `a=setup:active` in an m-section the re-offer added, next to `passive` in
 * the tag. werift 0.25.2 sets the shared transport's role from every
 * m-section in turn, so the last one made the SFU a DTLS server as well, and
 * a connection whose DTLS had not started yet never completed its handshake.
 */
export function bundledAnswer(sdp: string): string {
  const eol = sdp.includes("\r\n") ? "\r\n" : "\n";
  const lines = sdp.split(/\r?\n/);
  const sections = splitSections(lines);
  const session = lines.slice(0, sections[0]?.start ?? lines.length);
  const byMid = new Map<string, Section>();
  for (const section of sections) {
    const mid = attribute(lines.slice(section.start + 1, section.end), "mid");
    if (mid !== undefined) byMid.set(mid, { ...section, mid });
  }
  for (const group of session.filter((line) => line.startsWith("a=group:BUNDLE"))) {
    const members = group
      .slice("a=group:BUNDLE".length)
      .trim()
      .split(/\s+/)
      .flatMap((mid) => byMid.get(mid) ?? []);
    const tag = members.find((section) => section.port !== 0);
    const setup = tag && setupLine(lines, tag);
    if (!tag || setup === undefined) continue;
    for (const member of members) {
      const at = setupLine(lines, member);
      if (member !== tag && at !== undefined) lines[at] = lines[setup]!;
    }
  }
  return lines.join(eol);
}

/** The index of a section's `a=setup` line, if it has one. */
function setupLine(lines: readonly string[], section: Section): number | undefined {
  for (let i = section.start + 1; i < section.end; i++) if (lines[i]!.startsWith("a=setup:")) return i;
  return undefined;
}

function splitSections(lines: string[]): Section[] {
  const sections: Section[] = [];
  lines.forEach((line, i) => {
    if (!line.startsWith("m=")) return;
    const match = MEDIA_LINE.exec(line);
    if (!match) throw new BadRequestError("sdp has a malformed m= line");
    const port = Number(match[2]);
    if (port > 65535) throw new BadRequestError("sdp has an m= port out of range");
    const previous = sections[sections.length - 1];
    if (previous) previous.end = i;
    sections.push({ start: i, end: lines.length, kind: match[1]!, port });
  });
  return sections;
}

function attribute(lines: string[], name: string): string | undefined {
  const prefix = `a=${name}:`;
  const line = lines.find((l) => l.startsWith(prefix));
  return line?.slice(prefix.length).trim();
}

function checkTransport(session: string[], media: string[], rtp: boolean): void {
  const lookup = (name: string) => attribute(media, name) ?? attribute(session, name);
  const ufrag = lookup("ice-ufrag");
  const pwd = lookup("ice-pwd");
  const fingerprint = lookup("fingerprint");
  const setup = lookup("setup");
  if (ufrag === undefined || !ICE_UFRAG.test(ufrag))
    throw new BadRequestError("sdp has a missing or invalid ice-ufrag");
  if (pwd === undefined || !ICE_PWD.test(pwd))
    throw new BadRequestError("sdp has a missing or invalid ice-pwd");
  if (fingerprint === undefined || !FINGERPRINT.test(fingerprint)) {
    throw new BadRequestError("sdp has a missing or invalid fingerprint");
  }
  if (setup === undefined || !SETUP.has(setup))
    throw new BadRequestError("sdp has a missing or invalid setup");
  if (rtp && !media.some((l) => l === "a=rtcp-mux")) throw new BadRequestError("sdp must use rtcp-mux");
}

/**
 * The SFU's offer as sent: as JSEP has every offer, first or later, written (RFC 8829
 * §5.2.1-5.2.2): each m-section says `a=setup:actpass`, and a stopped
 * m-section (port 0) keeps `a=rtcp-mux`. werift writes the DTLS role it
 * took in re-offers (`a=setup:active`) and drops rtcp-mux from a stopped
 * m-section; a strict client refuses either. Only the text sent changes:
 * werift's local description and DTLS role stay as negotiated, and the
 * client's answer names the role it keeps (RFC 8842 §5.2) in its BUNDLE-tag,
 * which werift applies (through {@link bundledAnswer}) as the role it has.
 * It is also said once where werift repeats it in every m-section (see
 * {@link compactOffer}).
 */
export function jsepOffer(sdp: string): string {
  return compactOffer(jsepRoles(sdp));
}

function jsepRoles(sdp: string): string {
  const eol = sdp.includes("\r\n") ? "\r\n" : "\n";
  const lines = sdp.split(/\r?\n/);
  const out: string[] = [];
  let stopped = false;
  let rtcpMux = false;
  const closeSection = () => {
    if (stopped && !rtcpMux) {
      // Before the trailing empty string a final line break leaves.
      const at = out.length > 0 && out[out.length - 1] === "" ? out.length - 1 : out.length;
      out.splice(at, 0, "a=rtcp-mux");
    }
  };
  for (const line of lines) {
    if (line.startsWith("m=")) {
      closeSection();
      stopped = MEDIA_LINE.exec(line)?.[2] === "0";
      rtcpMux = false;
    } else if (line === "a=rtcp-mux") {
      rtcpMux = true;
    } else if (line.startsWith("a=setup:")) {
      out.push("a=setup:actpass");
      continue;
    }
    out.push(line);
  }
  closeSection();
  return out.join(eol);
}

/** Attributes werift writes into every m-section with the same value; the session level says them once. */
const SESSION_LEVEL_ATTRIBUTES = ["a=ice-ufrag:", "a=ice-pwd:", "a=ice-options:", "a=fingerprint:"];

/**
 * Says once what werift repeats in every m-section of an offer, some 300 of
 * its 700 bytes each: the ICE credentials, ICE options and DTLS fingerprint
 * go to the session level when every m-section has the same ones (RFC 8839
 * §5.4 and RFC 8122 §5 allow both levels; a media-level value would win), and
 * the candidates stay only in the m-section that carries the BUNDLE
 * transport (RFC 8843 §7.2: the bundled m-sections share it). An offer of
 * 100 m-sections shrinks by some 40 %, and so does every client's parse of it.
 */
function compactOffer(sdp: string): string {
  const eol = sdp.includes("\r\n") ? "\r\n" : "\n";
  const lines = sdp.split(/\r?\n/);
  const first = lines.findIndex((l) => l.startsWith("m="));
  if (first < 0) return sdp;
  const session = lines.slice(0, first);
  const sections: string[][] = [];
  for (const line of lines.slice(first)) {
    if (line.startsWith("m=")) sections.push([line]);
    else sections[sections.length - 1]!.push(line);
  }
  // A final line break leaves an empty string after the last section.
  const trailing =
    sections[sections.length - 1]!.at(-1) === "" ? sections[sections.length - 1]!.pop() : undefined;

  for (const prefix of SESSION_LEVEL_ATTRIBUTES) {
    if (session.some((l) => l.startsWith(prefix))) continue;
    const values = sections.map((section) => section.filter((l) => l.startsWith(prefix)).join("\n"));
    if (values[0] === "" || values.some((v) => v !== values[0])) continue;
    session.push(...values[0]!.split("\n"));
    for (const section of sections) removeWhere(section, (l) => l.startsWith(prefix));
  }

  const bundle =
    session
      .find((l) => l.startsWith("a=group:BUNDLE "))
      ?.split(" ")
      .slice(1) ?? [];
  const tag = sections.find((section) => section.includes(`a=mid:${bundle[0]}`));
  if (tag?.some((l) => l.startsWith("a=candidate:"))) {
    for (const section of sections) {
      const mid = section.find((l) => l.startsWith("a=mid:"))?.slice("a=mid:".length);
      if (section === tag || mid === undefined || !bundle.includes(mid)) continue;
      removeWhere(section, (l) => l.startsWith("a=candidate:") || l === "a=end-of-candidates");
    }
  }
  const out = [...session, ...sections.flat()];
  if (trailing !== undefined) out.push(trailing);
  return out.join(eol);
}

function removeWhere(lines: string[], drop: (line: string) => boolean): void {
  for (let i = lines.length - 1; i >= 0; i--) if (drop(lines[i]!)) lines.splice(i, 1);
}
