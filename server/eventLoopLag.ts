import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import { Gauge, collectDefaultMetrics, type Registry } from "prom-client";

/** prom-client's own event-loop monitor cannot be left out of its defaults; at this resolution (~24 days) it never wakes. */
const IDLE_MONITOR_MS = 2 ** 31 - 1;

/** prom-client's event-loop series, under the same names, so dashboards and alerts keep working. */
export const EVENT_LOOP_LAG_SERIES = [
  "nodejs_eventloop_lag_seconds",
  "nodejs_eventloop_lag_min_seconds",
  "nodejs_eventloop_lag_max_seconds",
  "nodejs_eventloop_lag_mean_seconds",
  "nodejs_eventloop_lag_stddev_seconds",
  "nodejs_eventloop_lag_p50_seconds",
  "nodejs_eventloop_lag_p90_seconds",
  "nodejs_eventloop_lag_p99_seconds",
] as const;

/** What a timer due every `resolutionMs` finds, as statistics over the samples since the last scrape. */
interface LagStats {
  min: number;
  max: number;
  mean: number;
  stddev: number;
  p50: number;
  p90: number;
  p99: number;
}

/**
 * The `nodejs_eventloop_lag_*` series from a timer that wakes the process
 * every `resolutionMs` (prom-client's wakes it every 10 ms, a few ms of CPU a
 * second on an idle server). Node's monitor records each interval between two
 * of its timer's runs, the resolution included; these series report what is
 * beyond it, so an idle loop reads about 0 whatever the resolution.
 */
export class EventLoopLag {
  readonly #histogram: IntervalHistogram;
  readonly #resolutionNs: number;
  #last: LagStats = { min: 0, max: 0, mean: 0, stddev: 0, p50: 0, p90: 0, p99: 0 };
  #closed = false;

  constructor(options: { registers: Registry[]; resolutionMs: number }) {
    this.#resolutionNs = options.resolutionMs * 1e6;
    this.#histogram = monitorEventLoopDelay({ resolution: options.resolutionMs });
    this.#histogram.enable();
    const { registers } = options;
    const stats = () => this.#last;
    // How long a callback queued now waits for its turn, read at each scrape; no timer of its own.
    new Gauge({
      name: "nodejs_eventloop_lag_seconds",
      help: "Lag of event loop in seconds.",
      registers,
      async collect() {
        const start = process.hrtime.bigint();
        await new Promise((resolve) => setImmediate(resolve));
        this.set(Number(process.hrtime.bigint() - start) / 1e9);
      },
    });
    const read = () => this.#read();
    // As in prom-client: the first of these series reads the monitor (and resets it) for all of them.
    const lagGauge = (name: string, help: string, pick: (s: LagStats) => number, first = false) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          if (first) read();
          this.set(pick(stats()) / 1e9);
        },
      });
    lagGauge(
      "nodejs_eventloop_lag_min_seconds",
      "The minimum recorded event loop delay.",
      (s) => s.min,
      true,
    );
    lagGauge("nodejs_eventloop_lag_max_seconds", "The maximum recorded event loop delay.", (s) => s.max);
    lagGauge(
      "nodejs_eventloop_lag_mean_seconds",
      "The mean of the recorded event loop delays.",
      (s) => s.mean,
    );
    lagGauge(
      "nodejs_eventloop_lag_stddev_seconds",
      "The standard deviation of the recorded event loop delays.",
      (s) => s.stddev,
    );
    lagGauge(
      "nodejs_eventloop_lag_p50_seconds",
      "The 50th percentile of the recorded event loop delays.",
      (s) => s.p50,
    );
    lagGauge(
      "nodejs_eventloop_lag_p90_seconds",
      "The 90th percentile of the recorded event loop delays.",
      (s) => s.p90,
    );
    lagGauge(
      "nodejs_eventloop_lag_p99_seconds",
      "The 99th percentile of the recorded event loop delays.",
      (s) => s.p99,
    );
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Stops the monitor's timer; the series keep their last values. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#histogram.disable();
  }

  /** Takes the samples since the last read, net of the resolution, and starts a new set. */
  #read(): void {
    const h = this.#histogram;
    // No sample since the last scrape (two scrapes within one resolution): keep the last figures.
    if (h.count === 0) return;
    const net = (ns: number) => Math.max(0, ns - this.#resolutionNs);
    this.#last = {
      min: net(h.min),
      max: net(h.max),
      mean: net(h.mean),
      stddev: h.stddev,
      p50: net(h.percentile(50)),
      p90: net(h.percentile(90)),
      p99: net(h.percentile(99)),
    };
    h.reset();
  }
}

/**
 * prom-client's default process series on `registry`, with the event-loop
 * series from an {@link EventLoopLag} sampling every `eventLoopMonitorMs`;
 * the caller closes what this returns.
 */
export function collectProcessMetrics(registry: Registry, eventLoopMonitorMs: number): EventLoopLag {
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: IDLE_MONITOR_MS });
  for (const name of EVENT_LOOP_LAG_SERIES) registry.removeSingleMetric(name);
  return new EventLoopLag({ registers: [registry], resolutionMs: eventLoopMonitorMs });
}
