import { spawnSync } from "node:child_process";
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
    });
    expect(config.stunServers).to.deep.equal([{ urls: "stun:stun.l.google.com:19302" }]);
    expect(config.iceAdvertiseIps).to.deep.equal([]);
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
