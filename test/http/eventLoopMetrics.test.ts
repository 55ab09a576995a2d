import { expect } from "chai";
import { Registry } from "prom-client";
import request from "supertest";
import { createSilentLogger } from "../../lib/logger.js";
import { WorkerPool } from "../../lib/sfu/cluster/WorkerPool.js";
import { SfuService } from "../../lib/sfu/SfuService.js";
import { createApplication, type Application } from "../../server/app.js";
import { loadConfig } from "../../server/config.js";
import { EVENT_LOOP_LAG_SERIES, EventLoopLag } from "../../server/eventLoopLag.js";
import { loadSfu } from "../../server/sfu.js";
import { TEST_ENV } from "../helpers/server.js";
import { sleep } from "../helpers/wait.js";

/** A series' value in Prometheus text, NaN if absent. */
function value(text: string, name: string): number {
  return Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);
}

/** Keeps the event loop busy for `ms`, as a long synchronous task would. */
function block(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe("Event-loop lag metrics", function () {
  this.timeout(20_000);

  describe("the sampler", () => {
    let lag: EventLoopLag | undefined;
    afterEach(() => lag?.close());

    it("reads an idle loop near 0, not the sampling interval", async () => {
      const registry = new Registry();
      lag = new EventLoopLag({ registers: [registry], resolutionMs: 50 });
      await sleep(700);
      const text = await registry.metrics();
      // Each sample spans 50 ms of interval; reported net of it, an idle loop's median is a few ms at most.
      expect(value(text, "nodejs_eventloop_lag_p50_seconds")).to.be.at.least(0).and.below(0.025);
      expect(value(text, "nodejs_eventloop_lag_min_seconds")).to.be.at.least(0).and.below(0.025);
    });

    it("shows a blocked loop in the max, and starts over after each scrape", async () => {
      const registry = new Registry();
      lag = new EventLoopLag({ registers: [registry], resolutionMs: 50 });
      await sleep(120);
      block(300);
      await sleep(120);
      const blocked = await registry.metrics();
      expect(value(blocked, "nodejs_eventloop_lag_max_seconds")).to.be.at.least(0.2);
      await sleep(700);
      const after = await registry.metrics();
      expect(value(after, "nodejs_eventloop_lag_max_seconds")).to.be.below(0.2);
    });

    it("exposes prom-client's series names", async () => {
      const registry = new Registry();
      lag = new EventLoopLag({ registers: [registry], resolutionMs: 50 });
      await sleep(120);
      const text = await registry.metrics();
      for (const name of EVENT_LOOP_LAG_SERIES) expect(value(text, name), name).to.be.at.least(0);
    });
  });

  describe("GET /metrics with the process metrics on", () => {
    let application: Application | undefined;
    afterEach(async () => application?.close());

    it("serves each event-loop series once beside prom-client's other process series", async () => {
      const config = loadConfig({ ...TEST_ENV, EVENT_LOOP_MONITOR_MS: "20" });
      const logger = createSilentLogger();
      const local = await loadSfu(config, logger, {
        service: () => Promise.resolve({ SfuService }),
        pool: () => Promise.resolve({ WorkerPool }),
      });
      application = createApplication({ config, logger, local });
      await application.ready;
      await sleep(300);
      const res = await request(application.httpServer).get("/metrics").expect(200);
      for (const name of EVENT_LOOP_LAG_SERIES) {
        expect(res.text.match(new RegExp(`^${name} `, "gm")), name).to.have.length(1);
      }
      expect(value(res.text, "nodejs_eventloop_lag_p50_seconds")).to.be.below(0.01);
      expect(value(res.text, "process_cpu_user_seconds_total")).to.be.above(0);
      expect(value(res.text, "nodejs_heap_size_used_bytes")).to.be.above(0);
    });
  });
});
