import { randomBytes } from "node:crypto";
import { isIP } from "node:net";
import { hostname } from "node:os";
import dotenv from "dotenv";
import { bool, cleanEnv, makeValidator, str, EnvError } from "envalid";
import type { LogLevel } from "../lib/logger.js";
import type { IceServer } from "../lib/protocol.js";
import type { TurnCredentialSource } from "../lib/util/turnCredentials.js";
import type { ActiveSpeakerOptions } from "../lib/types.js";

/** Everything the SFU reads from its environment, validated and frozen. */
export interface Config {
  port: number;
  /** Address the HTTP server binds to; empty means every interface. */
  host: string;
  stunServers: IceServer[];
  icePortRange: [number, number] | undefined;
  /** One UDP port shared by every peer's ICE (PROTOCOL §13); exclusive with `icePortRange`. */
  iceUdpPort: number | undefined;
  iceAdvertiseIps: string[];
  /** TURN servers handed to clients (and used by the SFU itself in relay-only mode); PROTOCOL §13. */
  turn: TurnConfig | undefined;
  /** The SFU gathers only a relayed candidate, from the first TURN URL. */
  iceRelayOnly: boolean;
  /** `joined` tells clients to relay only as well. */
  iceRelayOnlyClients: boolean;
  /** Address (or name) the media sockets bind to; candidates still advertise `iceAdvertiseIps`. */
  iceBindAddress: string | undefined;
  iceUseIpv6: boolean;
  allowPrivateCandidates: boolean;
  logLevel: LogLevel;
  maxConnections: number;
  maxPeersPerRoom: number;
  reconnectGraceMs: number;
  joinTokenSecret: string | undefined;
  adminToken: string | undefined;
  corsOrigins: "*" | string[];
  negotiationTimeoutMs: number;
  iceTimeoutMs: number;
  maxPublishedTracks: number;
  maxSdpBytes: number;
  eventRateLimit: number;
  shutdownTimeoutMs: number;
  /** Forwarding threads; 0 forwards in the main thread. */
  workers: number;
  /** Redis that joins the nodes into one SFU (PROTOCOL §14); unset runs a single node. */
  redisUrl: string | undefined;
  /** This node's name in the cluster: NODE_ID, or one made up for this process. */
  nodeId: string;
  /** Whether a participant may publish when its join token says nothing (or tokens are off); PROTOCOL §15. */
  defaultCanPublish: boolean;
  /** Each receiver gets at most this many loudest speakers; 0 forwards everyone (PROTOCOL §15). */
  forwardLoudest: number;
  activeSpeakers: ActiveSpeakerOptions;
  /** Where room and participant events are POSTed (PROTOCOL §12); empty = none. */
  webhookUrls: string[];
  /** Key of each webhook body's HMAC-SHA256 signature; set whenever webhookUrls is. */
  webhookSecret: string | undefined;
  /** Events waiting per webhook URL; beyond it the oldest is dropped. */
  webhookQueueSize: number;
  /** How long a failing delivery is retried before it is given up. */
  webhookRetryMs: number;
  /** How often the nodejs_eventloop_lag_* series sample the event loop (each sample wakes the process). */
  eventLoopMonitorMs: number;
}

/** TURN_URLS with the credentials that go with them. */
export interface TurnConfig {
  urls: string[];
  credentials: TurnCredentialSource;
}

/** A bad environment value; its message names the variable. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

const stunUrlList = makeValidator<string[]>((value) => {
  const urls = splitList(value);
  for (const url of urls) {
    // STUN_SERVERS has nowhere to put a TURN credential: such a URL could never work.
    if (/^turns?:/i.test(url)) {
      throw new EnvError(
        `"${url}" is a TURN URL: put it in TURN_URLS, with TURN_SECRET or TURN_USERNAME/TURN_CREDENTIAL`,
      );
    }
    if (!/^stuns?:[^\s]+$/.test(url)) throw new EnvError(`"${url}" is not a stun: URL`);
  }
  return urls;
});

const turnUrlList = makeValidator<string[]>((value) => {
  const urls = splitList(value);
  for (const url of urls) {
    const match = /^(turns?):([^\s?]+)(?:\?transport=(udp|tcp))?$/i.exec(url);
    if (!match) throw new EnvError(`"${url}" is not a turn:/turns: URL (optionally with ?transport=udp|tcp)`);
    if (match[1]!.toLowerCase() === "turns" && match[3]?.toLowerCase() === "udp") {
      throw new EnvError(`"${url}": turns: runs over TLS, which needs transport=tcp`);
    }
  }
  return urls;
});

// A host name or an IP address: some platforms bind media to a name (Fly.io's fly-global-services).
const bindAddress = makeValidator<string>((value) => {
  const address = value.trim();
  if (
    address !== "" &&
    isIP(address) === 0 &&
    !/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(address)
  ) {
    throw new EnvError(`"${value}" is neither an IP address nor a host name`);
  }
  return address;
});

const ipList = makeValidator<string[]>((value) => {
  const ips = splitList(value);
  for (const ip of ips) if (isIP(ip) === 0) throw new EnvError(`"${ip}" is not an IP address`);
  return ips;
});

const originList = makeValidator<"*" | string[]>((value) => {
  if (value.trim() === "*") return "*";
  const origins = splitList(value);
  // An empty list would refuse every browser: almost certainly a mistake, so it stops start-up.
  if (origins.length === 0) throw new EnvError("is empty: list the allowed origins, or * for any");
  for (const origin of origins) {
    if (!/^https?:\/\/[^\s/]+$/.test(origin))
      throw new EnvError(`"${origin}" is not an origin like https://host:port`);
  }
  return origins;
});

const redisUrl = makeValidator<string>((value) => {
  if (value === "") return "";
  if (!/^rediss?:\/\/[^\s]+$/.test(value))
    throw new EnvError(`"${value}" is not a redis:// or rediss:// URL`);
  return value;
});

const nodeId = makeValidator<string>((value) => {
  if (value === "") return "";
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(value))
    throw new EnvError(`"${value}" is not 1-64 of A-Z a-z 0-9 . _ -`);
  return value;
});

const urlList = makeValidator<string[]>((value) => {
  const urls = splitList(value);
  for (const url of urls) {
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol))
      throw new EnvError(`"${url}" is not an http(s) URL`);
  }
  return urls;
});

const listenPort = makeValidator<number>((value) => {
  if (!/^\d+$/.test(value) || Number(value) > 65535) throw new EnvError(`"${value}" is not a port (0-65535)`);
  return Number(value);
});

// 0 stands for "unset": envalid rejects a parser result of undefined.
const optionalPort = makeValidator<number>((value) => {
  if (value === "") return 0;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 65535) {
    throw new EnvError(`"${value}" is not a port (1-65535)`);
  }
  return Number(value);
});

const positiveInt = (options: { default: number; desc: string; min?: number; max?: number }) =>
  makeValidator<number>((value) => {
    const parsed = Number(value);
    const min = options.min ?? 1;
    const max = options.max ?? Number.MAX_SAFE_INTEGER;
    if (!/^\d+$/.test(value) || parsed < min || parsed > max) {
      const range = options.max === undefined ? `>= ${min}` : `from ${min} to ${max}`;
      throw new EnvError(`"${value}" is not a whole number ${range}`);
    }
    return parsed;
  })({ default: options.default, desc: options.desc });

/**
 * Reads and validates the configuration from `env` (the process environment
 * plus `.env`, by default). Throws a {@link ConfigError} naming the first bad
 * variable; nothing else in the project reads the environment.
 */
export function loadConfig(env: NodeJS.ProcessEnv = readProcessEnv()): Readonly<Config> {
  const clean = cleanEnv(
    env,
    {
      PORT: listenPort({ default: 5005, desc: "HTTP + Socket.IO port; 0 picks a free one" }),
      HOST: str({ default: "", desc: "bind address; empty = all interfaces" }),
      STUN_SERVERS: stunUrlList({
        default: ["stun:stun.l.google.com:19302"],
        desc: "comma-separated; empty = none",
      }),
      ICE_UDP_PORT_MIN: optionalPort({ default: 0 }),
      ICE_UDP_PORT_MAX: optionalPort({ default: 0 }),
      ICE_UDP_PORT: optionalPort({ default: 0 }),
      ICE_ADVERTISE_IP: ipList({ default: [] }),
      ICE_USE_IPV6: bool({ default: false }),
      ALLOW_PRIVATE_CANDIDATES: bool({ default: false }),
      TURN_URLS: turnUrlList({ default: [] }),
      TURN_SECRET: str({ default: "" }),
      TURN_CREDENTIAL_TTL: positiveInt({
        default: 86400,
        min: 60,
        desc: "seconds minted TURN credentials stay valid",
      }),
      TURN_USERNAME: str({ default: "" }),
      TURN_CREDENTIAL: str({ default: "" }),
      ICE_RELAY_ONLY: bool({ default: false }),
      ICE_RELAY_ONLY_CLIENTS: bool({ default: false }),
      ICE_BIND_ADDRESS: bindAddress({ default: "" }),
      LOG_LEVEL: str({ default: "info", choices: ["debug", "info", "warn", "error"] }),
      MAX_CONNECTIONS: positiveInt({ default: 1000, desc: "concurrent Socket.IO connections" }),
      // A listen-only audience room (PROTOCOL §15) may hold 1000; nobody is subscribed to its listeners.
      MAX_PEERS_PER_ROOM: positiveInt({ default: 100, max: 1000, desc: "peers per room" }),
      RECONNECT_GRACE_MS: positiveInt({ default: 15000, min: 0, desc: "resume window" }),
      JOIN_TOKEN_SECRET: str({ default: "" }),
      ADMIN_TOKEN: str({ default: "" }),
      CORS_ORIGINS: originList({ default: "*" }),
      NEGOTIATION_TIMEOUT_MS: positiveInt({ default: 10000, min: 100, desc: "bound on each SDP step" }),
      ICE_TIMEOUT_MS: positiveInt({ default: 30000, min: 100, desc: "ICE must connect within this" }),
      MAX_PUBLISHED_TRACKS: positiveInt({ default: 1, desc: "audio tracks one peer may publish" }),
      // 100 peers' forwarded m-lines come to ~70 KB of SDP (~700 bytes each); 1 MiB bounds the socket buffer.
      MAX_SDP_BYTES: positiveInt({ default: 131072, min: 1024, max: 1048576, desc: "largest accepted SDP" }),
      EVENT_RATE_LIMIT: positiveInt({ default: 50, desc: "signaling events per second per socket" }),
      // PROTOCOL §10: the process exits within 10 s of SIGTERM, logs flushed.
      SHUTDOWN_TIMEOUT_MS: positiveInt({
        default: 8000,
        min: 100,
        max: 9000,
        desc: "hard limit on graceful shutdown",
      }),
      SFU_WORKERS: positiveInt({ default: 0, min: 0, desc: "forwarding worker threads; 0 = main thread" }),
      REDIS_URL: redisUrl({ default: "", desc: "Redis joining the nodes into one SFU; empty = one node" }),
      NODE_ID: nodeId({ default: "", desc: "this node's name in the cluster; empty = made up per process" }),
      DEFAULT_CAN_PUBLISH: bool({ default: true, desc: "publish rights without a canPublish claim" }),
      FORWARD_LOUDEST: positiveInt({
        default: 0,
        min: 0,
        max: 100,
        desc: "loudest speakers per receiver; 0 = all",
      }),
      ACTIVE_SPEAKER_DBOV: positiveInt({
        default: 35,
        min: 0,
        max: 127,
        desc: "speaking means louder than -N dBov",
      }),
      // Long enough that a cough is outvoted, short enough that a change shows within 1 s (PROTOCOL §12).
      ACTIVE_SPEAKER_WINDOW_MS: positiveInt({ default: 400, min: 100, max: 600, desc: "level window" }),
      ACTIVE_SPEAKER_INTERVAL_MS: positiveInt({ default: 100, min: 20, max: 300, desc: "level reads" }),
      ACTIVE_SPEAKER_START_PERCENT: positiveInt({ default: 40, max: 100, desc: "loud share to start" }),
      ACTIVE_SPEAKER_HOLD_PERCENT: positiveInt({ default: 20, max: 100, desc: "loud share to stay" }),
      WEBHOOK_URLS: urlList({ default: [] }),
      WEBHOOK_SECRET: str({ default: "" }),
      WEBHOOK_QUEUE_SIZE: positiveInt({ default: 1000, max: 100000, desc: "events waiting per URL" }),
      WEBHOOK_RETRY_MS: positiveInt({
        default: 60000,
        min: 60000,
        desc: "how long a failing delivery is retried",
      }),
      // 10 wake-ups a second cost an idle server about 0.4 ms of CPU per s here; prom-client's 10 ms, about 3.
      EVENT_LOOP_MONITOR_MS: positiveInt({
        default: 100,
        min: 10,
        max: 10000,
        desc: "event-loop lag sampling interval",
      }),
    },
    { reporter: throwFirstError },
  );

  const min = clean.ICE_UDP_PORT_MIN;
  const max = clean.ICE_UDP_PORT_MAX;
  if ((min === 0) !== (max === 0)) {
    throw new ConfigError("ICE_UDP_PORT_MIN and ICE_UDP_PORT_MAX must be set together");
  }
  if (min >= max && min !== 0) {
    throw new ConfigError("ICE_UDP_PORT_MIN must be lower than ICE_UDP_PORT_MAX");
  }
  const udpPort = clean.ICE_UDP_PORT;
  if (udpPort !== 0 && min !== 0) {
    throw new ConfigError("ICE_UDP_PORT: set either one port or ICE_UDP_PORT_MIN/ICE_UDP_PORT_MAX, not both");
  }
  // A worker thread cannot share the process's one socket: every datagram would cross threads twice.
  if (udpPort !== 0 && clean.SFU_WORKERS > 0) {
    throw new ConfigError("ICE_UDP_PORT: one shared port forwards in the main thread; set SFU_WORKERS=0");
  }

  const turn = readTurn(clean);
  if (clean.ACTIVE_SPEAKER_HOLD_PERCENT > clean.ACTIVE_SPEAKER_START_PERCENT) {
    throw new ConfigError("ACTIVE_SPEAKER_HOLD_PERCENT must not exceed ACTIVE_SPEAKER_START_PERCENT");
  }
  if (clean.ACTIVE_SPEAKER_INTERVAL_MS > clean.ACTIVE_SPEAKER_WINDOW_MS) {
    throw new ConfigError("ACTIVE_SPEAKER_INTERVAL_MS must not exceed ACTIVE_SPEAKER_WINDOW_MS");
  }
  if (clean.WEBHOOK_URLS.length > 0 && clean.WEBHOOK_SECRET === "") {
    throw new ConfigError("WEBHOOK_SECRET: must be set when WEBHOOK_URLS is (receivers check the signature)");
  }

  return Object.freeze({
    port: clean.PORT,
    host: clean.HOST,
    stunServers: clean.STUN_SERVERS.map((urls) => ({ urls })),
    icePortRange: min !== 0 ? [min, max] : undefined,
    iceUdpPort: udpPort !== 0 ? udpPort : undefined,
    iceAdvertiseIps: clean.ICE_ADVERTISE_IP,
    turn,
    iceRelayOnly: clean.ICE_RELAY_ONLY,
    iceRelayOnlyClients: clean.ICE_RELAY_ONLY_CLIENTS,
    iceBindAddress: clean.ICE_BIND_ADDRESS || undefined,
    iceUseIpv6: clean.ICE_USE_IPV6,
    allowPrivateCandidates: clean.ALLOW_PRIVATE_CANDIDATES,
    logLevel: clean.LOG_LEVEL,
    maxConnections: clean.MAX_CONNECTIONS,
    maxPeersPerRoom: clean.MAX_PEERS_PER_ROOM,
    reconnectGraceMs: clean.RECONNECT_GRACE_MS,
    joinTokenSecret: clean.JOIN_TOKEN_SECRET || undefined,
    adminToken: clean.ADMIN_TOKEN || undefined,
    corsOrigins: clean.CORS_ORIGINS,
    negotiationTimeoutMs: clean.NEGOTIATION_TIMEOUT_MS,
    iceTimeoutMs: clean.ICE_TIMEOUT_MS,
    maxPublishedTracks: clean.MAX_PUBLISHED_TRACKS,
    maxSdpBytes: clean.MAX_SDP_BYTES,
    eventRateLimit: clean.EVENT_RATE_LIMIT,
    shutdownTimeoutMs: clean.SHUTDOWN_TIMEOUT_MS,
    workers: clean.SFU_WORKERS,
    redisUrl: clean.REDIS_URL || undefined,
    nodeId: clean.NODE_ID || defaultNodeId(),
    defaultCanPublish: clean.DEFAULT_CAN_PUBLISH,
    forwardLoudest: clean.FORWARD_LOUDEST,
    activeSpeakers: {
      thresholdDbov: clean.ACTIVE_SPEAKER_DBOV,
      windowMs: clean.ACTIVE_SPEAKER_WINDOW_MS,
      intervalMs: clean.ACTIVE_SPEAKER_INTERVAL_MS,
      startPercent: clean.ACTIVE_SPEAKER_START_PERCENT,
      holdPercent: clean.ACTIVE_SPEAKER_HOLD_PERCENT,
    },
    webhookUrls: clean.WEBHOOK_URLS,
    webhookSecret: clean.WEBHOOK_SECRET || undefined,
    webhookQueueSize: clean.WEBHOOK_QUEUE_SIZE,
    webhookRetryMs: clean.WEBHOOK_RETRY_MS,
    eventLoopMonitorMs: clean.EVENT_LOOP_MONITOR_MS,
  } satisfies Config);
}

/** The TURN settings, or a {@link ConfigError} for a combination that cannot work (PROTOCOL §13). */
function readTurn(clean: {
  TURN_URLS: string[];
  TURN_SECRET: string;
  TURN_CREDENTIAL_TTL: number;
  TURN_USERNAME: string;
  TURN_CREDENTIAL: string;
  ICE_RELAY_ONLY: boolean;
  ICE_RELAY_ONLY_CLIENTS: boolean;
}): TurnConfig | undefined {
  const secret = clean.TURN_SECRET;
  const username = clean.TURN_USERNAME;
  const credential = clean.TURN_CREDENTIAL;
  if (secret !== "" && (username !== "" || credential !== "")) {
    throw new ConfigError("TURN_SECRET: set either TURN_SECRET or TURN_USERNAME/TURN_CREDENTIAL, not both");
  }
  if ((username === "") !== (credential === "")) {
    throw new ConfigError(
      `${username === "" ? "TURN_USERNAME" : "TURN_CREDENTIAL"}: TURN_USERNAME and TURN_CREDENTIAL must be set together`,
    );
  }
  if (clean.TURN_URLS.length === 0) {
    if (clean.ICE_RELAY_ONLY) throw new ConfigError("ICE_RELAY_ONLY: needs a TURN server in TURN_URLS");
    if (clean.ICE_RELAY_ONLY_CLIENTS)
      throw new ConfigError("ICE_RELAY_ONLY_CLIENTS: needs a TURN server in TURN_URLS");
    if (secret !== "" || username !== "") {
      throw new ConfigError(
        `${secret !== "" ? "TURN_SECRET" : "TURN_USERNAME"}: set TURN_URLS too, or the credentials go nowhere`,
      );
    }
    return undefined;
  }
  if (secret === "" && username === "") {
    throw new ConfigError("TURN_URLS: needs credentials: TURN_SECRET, or TURN_USERNAME and TURN_CREDENTIAL");
  }
  return {
    urls: clean.TURN_URLS,
    credentials:
      secret !== ""
        ? { kind: "secret", secret, ttlSeconds: clean.TURN_CREDENTIAL_TTL }
        : { kind: "static", username, credential },
  };
}

function readProcessEnv(): NodeJS.ProcessEnv {
  // .env fills in what the real environment leaves unset, never overrides it.
  dotenv.config({ quiet: true });
  return process.env;
}

/** Unique per process and fixed for its life: the host name tells operators where it runs. */
function defaultNodeId(): string {
  const host =
    hostname()
      .replace(/[^A-Za-z0-9._-]/g, "")
      .slice(0, 40) || "node";
  return `${host}-${randomBytes(4).toString("hex")}`;
}

function splitList(value: string): string[] {
  return value
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

function throwFirstError({ errors }: { errors: Partial<Record<string, Error>> }): void {
  const [name, error] = Object.entries(errors)[0] ?? [];
  if (name === undefined) return;
  const reason = error?.message || "invalid value";
  throw new ConfigError(`${name}: ${reason}`);
}
