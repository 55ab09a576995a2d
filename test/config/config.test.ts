import { spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";
import { expect } from "chai";
import { ConfigError, loadConfig } from "../../server/config.js";

describe("configuration from the environment", () => {
  it("applies the documented defaults", () => {
    const config = loadConfig({});
    expect(config).to.include({
      port: 5005,
      logLevel: "info",
      maxConnections: 1000,
      maxPeersPerRoom: 100,
      reconnectGraceMs: 15000,
      corsOrigins: "*",
      joinTokenSecret: undefined,
      adminToken: undefined,
      icePortRange: undefined,
      maxSdpBytes: 131072,
      shutdownTimeoutMs: 8000,
      defaultCanPublish: true,
      forwardLoudest: 0,
      eventLoopMonitorMs: 100,
    });
    expect(config.stunServers).to.deep.equal([{ urls: "stun:stun.l.google.com:19302" }]);
    expect(config.iceAdvertiseIps).to.deep.equal([]);
    expect(config.activeSpeakers).to.deep.equal({
      thresholdDbov: 35,
      windowMs: 400,
      intervalMs: 100,
      startPercent: 40,
      holdPercent: 20,
    });
    expect(config).to.include({ webhookSecret: undefined, webhookQueueSize: 1000, webhookRetryMs: 60000 });
    expect(config.webhookUrls).to.deep.equal([]);
  });

  it("reads lists and ranges", () => {
    const config = loadConfig({
      STUN_SERVERS: "stun:a.example:3478, stun:b.example:3478",
      ICE_UDP_PORT_MIN: "40000",
      ICE_UDP_PORT_MAX: "40100",
      ICE_ADVERTISE_IP: "203.0.113.7,2001:db8::1",
      CORS_ORIGINS: "https://a.example,http://localhost:3000",
    });
    expect(config.stunServers.map((s) => s.urls)).to.deep.equal([
      "stun:a.example:3478",
      "stun:b.example:3478",
    ]);
    expect(config.icePortRange).to.deep.equal([40000, 40100]);
    expect(config.iceAdvertiseIps).to.deep.equal(["203.0.113.7", "2001:db8::1"]);
    expect(config.corsOrigins).to.deep.equal(["https://a.example", "http://localhost:3000"]);
  });

  it("runs one node without REDIS_URL, under a NODE_ID made up once per process unless one is given", () => {
    const single = loadConfig({});
    expect(single.redisUrl).to.equal(undefined);
    expect(single.nodeId).to.match(/^[A-Za-z0-9._-]+-[0-9a-f]{8}$/);
    expect(loadConfig({}).nodeId, "another process gets another id").to.not.equal(single.nodeId);
    const clustered = loadConfig({ REDIS_URL: "redis://10.0.0.5:6379/2", NODE_ID: "sfu-1.eu" });
    expect(clustered).to.include({ redisUrl: "redis://10.0.0.5:6379/2", nodeId: "sfu-1.eu" });
  });

  it("reads the large-room settings (PROTOCOL §15)", () => {
    const config = loadConfig({
      MAX_PEERS_PER_ROOM: "1000",
      DEFAULT_CAN_PUBLISH: "false",
      FORWARD_LOUDEST: "3",
    });
    expect(config).to.include({ maxPeersPerRoom: 1000, defaultCanPublish: false, forwardLoudest: 3 });
  });

  it("treats an empty STUN_SERVERS as no STUN at all", () => {
    expect(loadConfig({ STUN_SERVERS: "" }).stunServers).to.deep.equal([]);
  });

  const bad: Array<[Record<string, string>, string]> = [
    [{ PORT: "http" }, "PORT"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL"],
    [{ MAX_CONNECTIONS: "-1" }, "MAX_CONNECTIONS"],
    [{ MAX_PEERS_PER_ROOM: "0" }, "MAX_PEERS_PER_ROOM"],
    [{ RECONNECT_GRACE_MS: "soon" }, "RECONNECT_GRACE_MS"],
    [{ ICE_ADVERTISE_IP: "not-an-ip" }, "ICE_ADVERTISE_IP"],
    [{ STUN_SERVERS: "http://stun.example" }, "STUN_SERVERS"],
    [{ ICE_UDP_PORT_MIN: "40000" }, "ICE_UDP_PORT_MAX"],
    [{ ICE_UDP_PORT_MIN: "40100", ICE_UDP_PORT_MAX: "40000" }, "ICE_UDP_PORT_MIN"],
    [{ CORS_ORIGINS: "not a url" }, "CORS_ORIGINS"],
    [{ CORS_ORIGINS: " , " }, "CORS_ORIGINS"],
    [{ SHUTDOWN_TIMEOUT_MS: "9001" }, "SHUTDOWN_TIMEOUT_MS"],
    [{ MAX_SDP_BYTES: "1048577" }, "MAX_SDP_BYTES"],
    [{ REDIS_URL: "localhost:6379" }, "REDIS_URL"],
    [{ NODE_ID: "node one" }, "NODE_ID"],
    [{ MAX_PEERS_PER_ROOM: "1001" }, "MAX_PEERS_PER_ROOM"],
    [{ DEFAULT_CAN_PUBLISH: "maybe" }, "DEFAULT_CAN_PUBLISH"],
    [{ FORWARD_LOUDEST: "-1" }, "FORWARD_LOUDEST"],
    [{ FORWARD_LOUDEST: "101" }, "FORWARD_LOUDEST"],
    [{ ACTIVE_SPEAKER_DBOV: "128" }, "ACTIVE_SPEAKER_DBOV"],
    [{ ACTIVE_SPEAKER_WINDOW_MS: "2000" }, "ACTIVE_SPEAKER_WINDOW_MS"],
    [
      { ACTIVE_SPEAKER_START_PERCENT: "30", ACTIVE_SPEAKER_HOLD_PERCENT: "31" },
      "ACTIVE_SPEAKER_HOLD_PERCENT",
    ],
    [{ ACTIVE_SPEAKER_WINDOW_MS: "200", ACTIVE_SPEAKER_INTERVAL_MS: "250" }, "ACTIVE_SPEAKER_INTERVAL_MS"],
    [{ WEBHOOK_URLS: "ftp://hooks.example/x", WEBHOOK_SECRET: "s" }, "WEBHOOK_URLS"],
    [{ WEBHOOK_URLS: "https://hooks.example/x" }, "WEBHOOK_SECRET"],
    [{ WEBHOOK_RETRY_MS: "1000" }, "WEBHOOK_RETRY_MS"],
    [{ ICE_UDP_PORT: "70000" }, "ICE_UDP_PORT"],
    [{ EVENT_LOOP_MONITOR_MS: "5" }, "EVENT_LOOP_MONITOR_MS"],
    [{ ICE_UDP_PORT: "40000", ICE_UDP_PORT_MIN: "40000", ICE_UDP_PORT_MAX: "40100" }, "ICE_UDP_PORT"],
    [{ ICE_UDP_PORT: "40000", SFU_WORKERS: "2" }, "ICE_UDP_PORT"],
  ];
  for (const [env, variable] of bad) {
    it(`rejects ${JSON.stringify(env)} naming ${variable}`, () => {
      expect(() => loadConfig(env))
        .to.throw(ConfigError)
        .with.property("message")
        .that.includes(variable);
    });
  }

  it("refuses an empty CORS_ORIGINS, which would refuse every browser, saying what to write instead", () => {
    expect(() => loadConfig({ CORS_ORIGINS: "" }))
      .to.throw(ConfigError)
      .with.property("message", "CORS_ORIGINS: is empty: list the allowed origins, or * for any");
  });

  it("bounds SHUTDOWN_TIMEOUT_MS at 9000 so that the SFU exits within 10 s of SIGTERM (PROTOCOL §10)", () => {
    expect(loadConfig({ SHUTDOWN_TIMEOUT_MS: "9000" }).shutdownTimeoutMs).to.equal(9000);
    expect(() => loadConfig({ SHUTDOWN_TIMEOUT_MS: "60000" }))
      .to.throw(ConfigError)
      .with.property("message", 'SHUTDOWN_TIMEOUT_MS: "60000" is not a whole number from 100 to 9000');
  });

  it("bounds MAX_SDP_BYTES at 1 MiB", () => {
    expect(loadConfig({ MAX_SDP_BYTES: "1048576" }).maxSdpBytes).to.equal(1048576);
    expect(() => loadConfig({ MAX_SDP_BYTES: "2000000" }))
      .to.throw(ConfigError)
      .with.property("message", 'MAX_SDP_BYTES: "2000000" is not a whole number from 1024 to 1048576');
  });

  it("stops the server at start-up with one line naming the variable and a non-zero exit", function () {
    this.timeout(30_000);
    const result = startServerWith({ PORT: "not-a-port" });
    expect(result.status).to.equal(1);
    const lines = result.stderr.trim().split("\n");
    expect(lines).to.have.length(1);
    expect(lines[0]).to.match(/^configuration error: PORT: /);
  });

  describe("connectivity (PROTOCOL §13)", () => {
    const TURN = { TURN_URLS: "turn:turn.example:3478?transport=udp,turns:turn.example:443?transport=tcp" };

    it("reads TURN_URLS with a shared secret, the relay switches and the bind address", () => {
      const config = loadConfig({
        ...TURN,
        TURN_SECRET: "s3cret",
        TURN_CREDENTIAL_TTL: "3600",
        ICE_RELAY_ONLY: "true",
        ICE_RELAY_ONLY_CLIENTS: "true",
        ICE_BIND_ADDRESS: "fly-global-services",
      });
      expect(config.turn).to.deep.equal({
        urls: ["turn:turn.example:3478?transport=udp", "turns:turn.example:443?transport=tcp"],
        credentials: { kind: "secret", secret: "s3cret", ttlSeconds: 3600 },
      });
      expect(config).to.include({
        iceRelayOnly: true,
        iceRelayOnlyClients: true,
        iceBindAddress: "fly-global-services",
      });
    });

    it("reads static TURN credentials, and defaults to no TURN, no relaying, no bind address", () => {
      const config = loadConfig({ ...TURN, TURN_USERNAME: "sfu", TURN_CREDENTIAL: "pw" });
      expect(config.turn?.credentials).to.deep.equal({ kind: "static", username: "sfu", credential: "pw" });
      expect(loadConfig({ TURN_URLS: "turn:t.example", TURN_SECRET: "x" }).turn?.credentials).to.include({
        ttlSeconds: 86400,
      });
      expect(loadConfig({})).to.include({
        turn: undefined,
        iceRelayOnly: false,
        iceRelayOnlyClients: false,
        iceBindAddress: undefined,
      });
    });

    const badCombinations: Array<[string, Record<string, string>, string]> = [
      ["TURN_URLS without credentials", TURN, "TURN_URLS: needs credentials"],
      [
        "both TURN_SECRET and static credentials",
        { ...TURN, TURN_SECRET: "s", TURN_USERNAME: "u", TURN_CREDENTIAL: "c" },
        "TURN_SECRET: set either TURN_SECRET or TURN_USERNAME/TURN_CREDENTIAL, not both",
      ],
      ["TURN_USERNAME alone", { ...TURN, TURN_USERNAME: "u" }, "TURN_CREDENTIAL: "],
      ["TURN_CREDENTIAL alone", { ...TURN, TURN_CREDENTIAL: "c" }, "TURN_USERNAME: "],
      ["a turn: URL in STUN_SERVERS", { STUN_SERVERS: "stun:s.example,turn:t.example" }, "STUN_SERVERS: "],
      ["a turns: URL in STUN_SERVERS", { STUN_SERVERS: "turns:t.example:443" }, "STUN_SERVERS: "],
      ["ICE_RELAY_ONLY without TURN_URLS", { ICE_RELAY_ONLY: "true" }, "ICE_RELAY_ONLY: needs a TURN server"],
      [
        "ICE_RELAY_ONLY_CLIENTS without TURN_URLS",
        { ICE_RELAY_ONLY_CLIENTS: "true" },
        "ICE_RELAY_ONLY_CLIENTS: needs a TURN server",
      ],
      ["TURN_SECRET without TURN_URLS", { TURN_SECRET: "s" }, "TURN_SECRET: set TURN_URLS too"],
      ["a stun: URL in TURN_URLS", { TURN_URLS: "stun:s.example", TURN_SECRET: "s" }, "TURN_URLS: "],
      ["turns: over UDP", { TURN_URLS: "turns:t.example?transport=udp", TURN_SECRET: "s" }, "TURN_URLS: "],
      [
        "a TTL under a minute",
        { ...TURN, TURN_SECRET: "s", TURN_CREDENTIAL_TTL: "10" },
        "TURN_CREDENTIAL_TTL: ",
      ],
      ["a bind address that is no address", { ICE_BIND_ADDRESS: "not an address" }, "ICE_BIND_ADDRESS: "],
    ];
    for (const [what, env, message] of badCombinations) {
      it(`refuses ${what}, naming the variable`, () => {
        expect(() => loadConfig(env))
          .to.throw(ConfigError)
          .with.property("message")
          .that.satisfies((text: string) => text.startsWith(message));
      });
    }

    it("stops the server at start-up with one line for each bad TURN combination", function () {
      this.timeout(60_000);
      const cases: Array<[Record<string, string>, string]> = [
        [TURN, "TURN_URLS"],
        [{ STUN_SERVERS: "turn:t.example" }, "STUN_SERVERS"],
        [{ ICE_RELAY_ONLY: "true" }, "ICE_RELAY_ONLY"],
      ];
      for (const [env, variable] of cases) {
        const result = startServerWith({ STUN_SERVERS: "", ...env });
        expect(result.status, variable).to.equal(1);
        const lines = result.stderr.trim().split("\n");
        expect(lines).to.have.length(1);
        expect(lines[0]).to.match(new RegExp(`^configuration error: ${variable}: `));
      }
    });
  });

  it("reads ICE_UDP_PORT as the one media port", () => {
    expect(loadConfig({ ICE_UDP_PORT: "50000" })).to.include({ iceUdpPort: 50000, icePortRange: undefined });
    expect(loadConfig({}).iceUdpPort).to.equal(undefined);
  });

  it("stops the server at start-up with one line when ICE_UDP_PORT meets a port range or forwarding workers", function () {
    this.timeout(60_000);
    const range = startServerWith({
      ICE_UDP_PORT: "40000",
      ICE_UDP_PORT_MIN: "40000",
      ICE_UDP_PORT_MAX: "40100",
    });
    expect(range.status).to.equal(1);
    expect(range.stderr.trim().split("\n")).to.deep.equal([
      "configuration error: ICE_UDP_PORT: set either one port or ICE_UDP_PORT_MIN/ICE_UDP_PORT_MAX, not both",
    ]);
    const workers = startServerWith({ ICE_UDP_PORT: "40000", SFU_WORKERS: "2" });
    expect(workers.status).to.equal(1);
    expect(workers.stderr.trim().split("\n")).to.deep.equal([
      "configuration error: ICE_UDP_PORT: one shared port forwards in the main thread; set SFU_WORKERS=0",
    ]);
  });

  it("stops the server at start-up with one line when ICE_UDP_PORT is taken", async function () {
    this.timeout(30_000);
    const holder = createSocket("udp4");
    await new Promise<void>((resolve) => holder.bind(0, resolve));
    try {
      const port = holder.address().port;
      const result = startServerWith({ ICE_UDP_PORT: String(port), PORT: "0", STUN_SERVERS: "" });
      expect(result.status).to.equal(1);
      const lines = result.stderr.trim().split("\n");
      expect(lines).to.have.length(1);
      expect(lines[0]).to.match(
        new RegExp(`^start-up error: ICE_UDP_PORT: cannot bind UDP port ${port}: .*EADDRINUSE`),
      );
    } finally {
      holder.close();
    }
  });

  it("stops the server at start-up with one line when CORS_ORIGINS is empty", function () {
    this.timeout(30_000);
    const result = startServerWith({ CORS_ORIGINS: "" });
    expect(result.status).to.equal(1);
    expect(result.stderr.trim().split("\n")).to.deep.equal([
      "configuration error: CORS_ORIGINS: is empty: list the allowed origins, or * for any",
    ]);
  });
});

/** Runs the server's entry point with `env` over this process's environment until it exits (at most 20 s). */
function startServerWith(env: Record<string, string>) {
  return spawnSync(process.execPath, ["--import", "tsx", "server/index.ts"], {
    env: { ...process.env, ...env },
    encoding: "utf8",
    timeout: 20_000,
  });
}
