import type { ClientEventName } from "../../lib/protocol.js";
import type { Prng } from "./prng.js";

/**
 * One fuzz case. `invalid` is true only when the payload is certain to fail
 * validation (wrong type, missing or oversized field): the SFU must then
 * answer BAD_REQUEST. Otherwise the SFU may accept it or refuse it with any
 * code, depending on the session's state.
 */
export interface FuzzCase {
  event: ClientEventName;
  payload: unknown;
  invalid: boolean;
  /** Which generator made it, for the printed figures. */
  shape: string;
}

/** Real descriptions the SDP mutations start from. */
export interface FuzzSeeds {
  offer: string;
  answer: string;
}

/** Largest string the fuzzer sends: a whole frame must stay under {@link MAX_FRAME}. */
const HUGE = 50_000;
const CONTROL = "\u0000\u0001\u0007\b\t\n\u000b\f\r\u001b\u007f";
const ODD = "äöü€😀\u200b\u202e\ufeff\ud800<>&\"'`\\/%$#@!{}[]";

/** Values of every JSON (and socket.io binary) type, none of them a string. */
function nonString(rng: Prng): unknown {
  return rng.pick<() => unknown>([
    () => undefined,
    () => null,
    () => rng.int(-1e9, 1e9),
    () => rng.pick([0, -0, NaN, Infinity, -Infinity, 1.5, Number.MAX_SAFE_INTEGER]),
    () => rng.chance(0.5),
    () => [],
    () => [rng.string(3), rng.int(0, 9)],
    () => ({}),
    () => ({ nested: { deeper: [rng.string(4)] } }),
    () => rng.bytes(rng.int(0, 64)),
  ])();
}

/** Strings of every awkward sort: empty, whitespace, control characters, unicode, huge. */
function oddString(rng: Prng): string {
  return rng.pick<() => string>([
    () => "",
    () => " ",
    () => rng.string(rng.int(1, 8), " \t\r\n"),
    () => rng.string(rng.int(1, 40), CONTROL + "abc"),
    () => rng.string(rng.int(1, 40), ODD),
    () => "x".repeat(rng.pick([127, 128, 129, 256, 1025, 4097])),
    () => rng.string(rng.int(HUGE / 2, HUGE)),
    () => "__proto__",
    () => "constructor",
    () => rng.string(rng.int(1, 30)),
  ])();
}

/** A string that passes the identifier rule (PROTOCOL §2). */
function identifier(rng: Prng, prefix: string): string {
  return prefix + rng.string(rng.int(1, 20), "abcdefghijklmnopqrstuvwxyz0123456789-_.:~");
}

/** Whether `value` breaks the identifier rule: 1-128 characters, no whitespace or control characters. */
function badIdentifier(value: unknown): boolean {
  return typeof value !== "string" || value.length === 0 || value.length > 128 || /[\s\p{Cc}]/u.test(value);
}

/** A payload that is not an object at all. */
function notAnObject(rng: Prng): unknown {
  return rng.pick<() => unknown>([
    () => undefined,
    () => null,
    () => rng.int(-5, 5),
    () => oddString(rng),
    () => [{ roomId: "r", userId: "u" }],
    () => rng.chance(0.5),
  ])();
}

function joinCase(rng: Prng): FuzzCase {
  const shape = rng.pick(["not-object", "binary", "fields", "fields", "fields", "valid"] as const);
  if (shape === "not-object") return { event: "join", payload: notAnObject(rng), invalid: true, shape };
  if (shape === "binary") {
    // A Buffer arrives as a Buffer: an object without roomId.
    return { event: "join", payload: rng.bytes(rng.int(0, 2048)), invalid: true, shape };
  }
  const payload: Record<string, unknown> = {
    roomId: identifier(rng, "f"),
    userId: identifier(rng, "u"),
  };
  if (shape === "valid") {
    if (rng.chance(0.3)) payload.displayName = rng.string(rng.int(0, 128), ODD + "abc ");
    return { event: "join", payload, invalid: false, shape };
  }
  for (let n = rng.int(1, 3); n > 0; n--) {
    const field = rng.pick(["roomId", "userId", "displayName", "token", "resumeToken", "__proto__", "extra"]);
    const value = rng.pick<() => unknown>([() => nonString(rng), () => oddString(rng), () => undefined])();
    if (rng.chance(0.15) && (field === "roomId" || field === "userId")) {
      delete payload[field];
    } else if (field === "__proto__") {
      // An own "__proto__" key, as JSON.parse makes one on the server.
      if (!Object.hasOwn(payload, "__proto__"))
        Object.defineProperty(payload, "__proto__", { value, enumerable: true });
    } else {
      payload[field] = value;
    }
  }
  return { event: "join", payload, invalid: invalidJoin(payload), shape };
}

/** The join rules (PROTOCOL §2, §3) applied to a payload as it will look after JSON. */
function invalidJoin(payload: Record<string, unknown>): boolean {
  const wire = (value: unknown) => (typeof value === "number" && !Number.isFinite(value) ? null : value);
  // null is absent, and an empty token or resumeToken is none (PROTOCOL §11).
  const optional = (value: unknown, ok: (text: string) => boolean) =>
    wire(value) !== undefined && wire(value) !== null && (typeof value !== "string" || !ok(value));
  return (
    badIdentifier(payload.roomId) ||
    badIdentifier(payload.userId) ||
    optional(payload.displayName, (t) => t.length <= 128 && !/\p{Cc}/u.test(t)) ||
    optional(payload.token, (t) => t.length <= 4096) ||
    optional(payload.resumeToken, (t) => t.length <= 256)
  );
}

function leaveCase(rng: Prng, roomId: string | undefined): FuzzCase {
  const shape = rng.pick(["not-object", "binary", "field", "field", "own-room", "other-room"] as const);
  if (shape === "not-object") return { event: "leave", payload: notAnObject(rng), invalid: true, shape };
  if (shape === "binary") return { event: "leave", payload: { roomId: rng.bytes(16) }, invalid: true, shape };
  if (shape === "own-room")
    return { event: "leave", payload: { roomId: roomId ?? "fnowhere" }, invalid: false, shape };
  if (shape === "other-room")
    return { event: "leave", payload: { roomId: identifier(rng, "f") }, invalid: false, shape };
  const value = rng.chance(0.5) ? nonString(rng) : oddString(rng);
  return {
    event: "leave",
    payload: { roomId: value, extra: oddString(rng) },
    invalid: badIdentifier(value),
    shape,
  };
}

function muteCase(rng: Prng): FuzzCase {
  const shape = rng.pick(["not-object", "flag", "flag", "field"] as const);
  if (shape === "not-object") return { event: "mute", payload: notAnObject(rng), invalid: true, shape };
  if (shape === "flag") return { event: "mute", payload: { muted: rng.chance(0.5) }, invalid: false, shape };
  const value = rng.chance(0.5) ? nonString(rng) : oddString(rng);
  return { event: "mute", payload: { muted: value }, invalid: typeof value !== "boolean", shape };
}

/** Every shape of ICE candidate line: valid, nearly valid, and junk. */
export function candidateLine(rng: Prng): string {
  const ip = rng.pick([
    "203.0.113.7",
    "127.0.0.1",
    "10.0.0.1",
    "::1",
    "2001:db8::1",
    "::ffff:7f00:1",
    `${rng.int(0, 300)}.${rng.int(0, 300)}.1.1`,
    "host-1.local",
    "not_an_ip",
    "",
  ]);
  const port = rng.pick([String(rng.int(1, 65535)), "0", "65536", "-1", "abc", "1e3", " 9", "99999999999"]);
  const fields = [
    rng.pick([String(rng.int(0, 4e9)), "", "ä", "x".repeat(40), "+/+/"]),
    rng.pick(["1", "2", "0", "257", "x"]),
    rng.pick(["udp", "UDP", "tcp", "sctp", "", "dccp"]),
    rng.pick([String(rng.int(0, 0xffffffff)), "-5", "4294967296", "p"]),
    ip,
    port,
    rng.pick(["typ", "type", ""]),
    rng.pick(["host", "srflx", "prflx", "relay", "bogus", ""]),
  ];
  if (rng.chance(0.3)) fields.push("raddr", "0.0.0.0", "rport", "0");
  if (rng.chance(0.2)) fields.push("tcptype", rng.pick(["active", "passive", "so"]));
  if (rng.chance(0.2)) fields.push("generation", "0", "ufrag", rng.string(4), "network-id", "1");
  if (rng.chance(0.1)) fields.push("unpaired");
  // Drop or shuffle a field now and then.
  if (rng.chance(0.15)) fields.splice(rng.int(0, fields.length - 1), 1);
  if (rng.chance(0.1)) {
    const i = rng.int(0, fields.length - 1);
    const j = rng.int(0, fields.length - 1);
    [fields[i], fields[j]] = [fields[j]!, fields[i]!];
  }
  const prefix = rng.pick(["candidate:", "candidate:", "a=candidate:", "candidate: ", "CANDIDATE:", ""]);
  const line = prefix + fields.join(rng.pick([" ", " ", "  ", "\t"]));
  return rng.chance(0.05) ? line + rng.string(rng.int(1, 10), CONTROL) : line;
}

/**
 * How clients address a candidate: not at all, with nulls, or with a mid or
 * index the SFU never saw. All are valid: the SFU bundles everything.
 */
const ADDRESSING: Array<Record<string, unknown>> = [
  {},
  { sdpMid: null, sdpMLineIndex: null },
  { sdpMid: "unknown" },
  { sdpMid: "5" },
  { sdpMLineIndex: 9 },
  { sdpMLineIndex: 1023 },
  { sdpMid: "x", sdpMLineIndex: 3, usernameFragment: "stale" },
];

function iceCandidateCase(rng: Prng): FuzzCase {
  const shape = rng.pick([
    "not-object",
    "binary",
    "line",
    "line",
    "line",
    "line",
    "fields",
    "addressing",
    "end",
  ] as const);
  if (shape === "not-object")
    return { event: "ice-candidate", payload: notAnObject(rng), invalid: true, shape };
  if (shape === "binary") {
    return {
      event: "ice-candidate",
      payload: { candidate: rng.bytes(rng.int(0, 200)) },
      invalid: true,
      shape,
    };
  }
  if (shape === "end") return { event: "ice-candidate", payload: { candidate: "" }, invalid: false, shape };
  if (shape === "addressing") {
    const ip = rng.pick(["203.0.113.7", "127.0.0.1", "2001:db8::1"]);
    const candidate = `candidate:${rng.int(0, 1e9)} 1 udp ${rng.int(1, 2 ** 31)} ${ip} ${rng.int(1, 65535)} typ host`;
    return { event: "ice-candidate", payload: { candidate, ...rng.pick(ADDRESSING) }, invalid: false, shape };
  }
  const payload: Record<string, unknown> = { candidate: candidateLine(rng), sdpMid: "0", sdpMLineIndex: 0 };
  let invalid = false;
  if (shape === "fields") {
    const field = rng.pick(["candidate", "sdpMid", "sdpMLineIndex", "usernameFragment"]);
    const value = rng.pick<() => unknown>([
      () => nonString(rng),
      () => oddString(rng),
      () => rng.pick([-1, 1.5, 1024, 5000, null]),
    ])();
    payload[field] = value;
    if (field === "candidate") invalid = typeof value !== "string" || value.length > 1024;
    if (field === "sdpMid" || field === "usernameFragment") {
      const max = field === "sdpMid" ? 32 : 256;
      invalid = value !== null && value !== undefined && (typeof value !== "string" || value.length > max);
    }
    if (field === "sdpMLineIndex") {
      invalid =
        value !== null &&
        value !== undefined &&
        !(typeof value === "number" && Number.isInteger(value) && value >= 0 && value <= 1023);
    }
    // JSON turns NaN and ±Infinity into null, which is allowed.
    if (typeof value === "number" && !Number.isFinite(value) && field !== "candidate") invalid = false;
  }
  return { event: "ice-candidate", payload, invalid, shape };
}

/**
 * Mutates a real SDP: lines flipped, deleted, duplicated, swapped, ports and attributes broken.
 * It grows to `maxBytes` at most: the test process is the SFU's too, and a
 * multi-megabyte SDP would stall both for seconds (socket pings time out) or
 * overflow a frame, which ends the fuzzing socket instead of testing the SDP check.
 */
export function mutateSdp(rng: Prng, sdp: string, maxBytes: number): string {
  let lines = sdp.split("\r\n").filter((l) => l.length > 0);
  const index = () => rng.int(0, Math.max(0, lines.length - 1));
  const mutations: Array<() => void> = [
    () => lines.splice(index(), 1),
    () => {
      const i = index();
      lines.splice(i, 0, lines[i] ?? "");
    },
    () => {
      // An earlier mutation may have cut every line: a swap then would add `undefined` ones.
      if (lines.length === 0) return;
      const i = index();
      const j = index();
      [lines[i], lines[j]] = [lines[j]!, lines[i]!];
    },
    () => {
      const i = index();
      const line = lines[i] ?? "";
      const at = rng.int(0, line.length);
      lines[i] = line.slice(0, at) + rng.string(1, CONTROL + ODD + "=: -0123456789") + line.slice(at + 1);
    },
    () => {
      lines = lines.map((l) =>
        l.startsWith("m=")
          ? l.replace(/^(m=\w+) \d+/, `$1 ${rng.pick(["abc", "-1", "65536", "99999", "", "9 9", "0x10"])}`)
          : l,
      );
    },
    () => lines.splice(index(), 0, `a=${candidateLine(rng)}`),
    () => {
      const name = rng.pick([
        "ice-ufrag",
        "ice-pwd",
        "fingerprint",
        "setup",
        "mid",
        "group:BUNDLE",
        "rtpmap:111",
      ]);
      lines = lines.map((l) => (l.startsWith(`a=${name}`) ? `a=${name}:${oddString(rng).slice(0, 300)}` : l));
    },
    () =>
      (lines = lines.filter(
        (l) => !l.startsWith(rng.pick(["a=ice-", "a=fingerprint", "a=setup", "a=rtcp-mux", "o=", "v="])),
      )),
    () => (lines = lines.slice(0, rng.int(0, lines.length))),
    () => {
      // Repeat the media section: too many m-lines, duplicate mids.
      const start = lines.findIndex((l) => l.startsWith("m="));
      if (start < 0) return;
      const section = lines.slice(start);
      const sectionBytes = section.reduce((n, l) => n + l.length + 2, 0);
      let bytes = lines.reduce((n, l) => n + l.length + 2, 0);
      for (
        let n = rng.int(1, 4) * (rng.chance(0.2) ? 60 : 1);
        n > 0 && bytes + sectionBytes <= maxBytes;
        n--
      ) {
        for (const line of section) lines.push(line);
        bytes += sectionBytes;
      }
    },
    () =>
      lines.push(
        rng.pick(["m=video 9 UDP/TLS/RTP/SAVPF 96", "m=application 9 UDP/DTLS/SCTP webrtc-datachannel"]),
      ),
    () =>
      lines.splice(index(), 0, `${rng.pick(["a", "b", "z", "m", "x", "1"])}=${oddString(rng).slice(0, 200)}`),
    () =>
      (lines = lines.map((l) =>
        l.startsWith("a=rtpmap") || l.startsWith("a=fmtp") ? l.replace(/\d+/, String(rng.int(0, 300))) : l,
      )),
  ];
  for (let n = rng.int(1, 4); n > 0; n--) rng.pick(mutations)();
  const eol = rng.pick(["\r\n", "\r\n", "\r\n", "\n", "\r", " "]);
  return lines.join(eol) + (rng.chance(0.9) ? eol : "");
}

function descriptionCase(rng: Prng, event: "offer" | "answer", seed: string, maxSdpBytes: number): FuzzCase {
  const shape = rng.pick([
    "not-object",
    "binary",
    "type",
    "sdp-type",
    "mutated",
    "mutated",
    "mutated",
    "mutated",
    "pristine",
  ] as const);
  if (shape === "not-object") return { event, payload: notAnObject(rng), invalid: true, shape };
  if (shape === "binary")
    return { event, payload: { type: event, sdp: Buffer.from(seed) }, invalid: true, shape };
  if (shape === "type") {
    const type = rng.pick<unknown>([
      event === "offer" ? "answer" : "offer",
      "pranswer",
      "rollback",
      "",
      1,
      null,
      undefined,
    ]);
    return { event, payload: { type, sdp: seed }, invalid: true, shape };
  }
  if (shape === "sdp-type") {
    const sdp = rng.chance(0.5) ? nonString(rng) : rng.pick(["", "x".repeat(maxSdpBytes + 1)]);
    return { event, payload: { type: event, sdp }, invalid: true, shape };
  }
  const sdp = shape === "pristine" ? seed : mutateSdp(rng, seed, 2 * maxSdpBytes);
  const invalid = sdp.length === 0 || sdp.length > maxSdpBytes;
  return { event, payload: { type: event, sdp }, invalid, shape };
}

/** Bytes a payload takes on the wire, near enough (socket.io sends Buffers as binary attachments). */
export function wireSize(payload: unknown): number {
  let binary = 0;
  const json = JSON.stringify(payload, (_key, value: unknown) => {
    if (value && typeof value === "object" && (value as { type?: unknown }).type === "Buffer") {
      binary += ((value as { data?: unknown[] }).data ?? []).length;
      return null;
    }
    return value;
  });
  return Buffer.byteLength(json ?? "") + binary;
}

/**
 * The largest frame the fuzzer sends: the SFU disconnects a socket whose frame
 * exceeds 2 × MAX_SDP_BYTES + 64 KiB (125,536 bytes at the fuzz's 30,000).
 */
export const MAX_FRAME = 60_000;

/** The next fuzz case for `event`; `roomId` is the lane's room, if it is in one. */
export function fuzzCase(
  rng: Prng,
  event: ClientEventName,
  seeds: FuzzSeeds,
  options: { roomId: string | undefined; maxSdpBytes: number },
): FuzzCase {
  for (;;) {
    const next = anyFuzzCase(rng, event, seeds, options);
    if (wireSize(next.payload) <= MAX_FRAME) return next;
  }
}

function anyFuzzCase(
  rng: Prng,
  event: ClientEventName,
  seeds: FuzzSeeds,
  options: { roomId: string | undefined; maxSdpBytes: number },
): FuzzCase {
  switch (event) {
    case "join":
      return joinCase(rng);
    case "leave":
      return leaveCase(rng, options.roomId);
    case "offer":
      return descriptionCase(rng, "offer", seeds.offer, options.maxSdpBytes);
    case "answer":
      return descriptionCase(rng, "answer", seeds.answer, options.maxSdpBytes);
    case "ice-candidate":
      return iceCandidateCase(rng);
    case "mute":
      return muteCase(rng);
  }
}
