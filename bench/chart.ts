/**
 * A hand-rolled SVG chart: CPU per forwarded packet and p99 latency against
 * load, one line per target. No dependency, deterministic output.
 */
import {
  PASS_P99_MS,
  nominalForwardedPerSecond,
  passes,
  targetLabel,
  type ScenarioResult,
} from "./results.js";

const PANEL_WIDTH = 460;
const PANEL_HEIGHT = 300;
const MARGIN = { top: 40, right: 20, bottom: 50, left: 60 };
const COLORS: Record<string, string> = {
  sfu: "#1f6feb",
  naive: "#d9730d",
  "sfu-1w": "#2da44e",
  "sfu-2w": "#8250df",
};
const LEGEND_ITEM_WIDTH = 150;

interface Point {
  x: number;
  y: number;
  label: string;
  /** Met the delivery and latency limits; drawn filled, otherwise hollow. */
  passed: boolean;
}

interface Panel {
  title: string;
  yLabel: string;
  value: (result: ScenarioResult) => number;
  /** Log scale: latency spans 1 ms to seconds. */
  log: boolean;
  /** A dashed reference line, e.g. the latency limit. */
  limit?: number;
}

/** Powers of ten covering [min, max] for a log axis. */
function logTicks(min: number, max: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(Math.max(min, 1e-3))); 10 ** e <= max * 1.0001 || out.length < 2; e++) {
    out.push(10 ** e);
  }
  if (out[out.length - 1]! < max) out.push(out[out.length - 1]! * 10);
  return out;
}

function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** 1, 2, 5 × 10^n steps giving about `count` ticks from 0 to max. */
function ticks(max: number, count = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = 0; v <= max + step / 2; v += step) out.push(Number(v.toPrecision(12)));
  if (out[out.length - 1]! < max) out.push(out[out.length - 1]! + step);
  return out;
}

function formatTick(value: number): string {
  return value >= 1000 ? `${Number((value / 1000).toPrecision(3))}k` : String(Number(value.toPrecision(3)));
}

function panelSvg(panel: Panel, results: readonly ScenarioResult[], offsetX: number): string {
  const series = new Map<string, Point[]>();
  for (const result of results) {
    const y = panel.value(result);
    if (!Number.isFinite(y) || result.error !== null) continue;
    const points = series.get(result.target) ?? [];
    points.push({
      x: nominalForwardedPerSecond(result.scenario),
      y,
      label: `${result.scenario.rooms}x${result.scenario.peersPerRoom}`,
      passed: passes(result),
    });
    series.set(result.target, points);
  }
  const all = [...series.values()].flat();
  const xTicks = ticks(Math.max(1, ...all.map((p) => p.x)));
  const yValues = all.map((p) => p.y).concat(panel.limit ?? []);
  const yTicks = panel.log
    ? logTicks(Math.min(...yValues.map((y) => Math.max(y, 0.1))), Math.max(1, ...yValues))
    : ticks(Math.max(1e-9, ...yValues));
  const yMin = panel.log ? yTicks[0]! : 0;
  const xMax = xTicks[xTicks.length - 1]!;
  const yMax = yTicks[yTicks.length - 1]!;
  const plotW = PANEL_WIDTH - MARGIN.left - MARGIN.right;
  const plotH = PANEL_HEIGHT - MARGIN.top - MARGIN.bottom;
  const sx = (x: number): number => offsetX + MARGIN.left + (x / xMax) * plotW;
  const sy = (y: number): number =>
    MARGIN.top +
    plotH -
    (panel.log
      ? (Math.log10(Math.max(y, yMin)) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))
      : y / yMax) *
      plotH;
  const parts: string[] = [];
  parts.push(
    `<text x="${offsetX + PANEL_WIDTH / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(panel.title)}</text>`,
  );
  for (const t of yTicks) {
    parts.push(
      `<line x1="${sx(0)}" y1="${sy(t)}" x2="${sx(xMax)}" y2="${sy(t)}" stroke="#e5e5e5"/>`,
      `<text x="${sx(0) - 6}" y="${sy(t) + 4}" text-anchor="end" font-size="11">${formatTick(t)}</text>`,
    );
  }
  for (const t of xTicks) {
    parts.push(
      `<line x1="${sx(t)}" y1="${sy(0)}" x2="${sx(t)}" y2="${sy(0) + 4}" stroke="#555"/>`,
      `<text x="${sx(t)}" y="${sy(0) + 17}" text-anchor="middle" font-size="11">${formatTick(t)}</text>`,
    );
  }
  parts.push(
    `<line x1="${sx(0)}" y1="${sy(0)}" x2="${sx(xMax)}" y2="${sy(0)}" stroke="#555"/>`,
    `<line x1="${sx(0)}" y1="${sy(0)}" x2="${sx(0)}" y2="${sy(yMax)}" stroke="#555"/>`,
    ...(panel.limit === undefined
      ? []
      : [
          `<line x1="${sx(0)}" y1="${sy(panel.limit)}" x2="${sx(xMax)}" y2="${sy(panel.limit)}" stroke="#c00" stroke-dasharray="5 4"/>`,
          `<text x="${sx(xMax) - 4}" y="${sy(panel.limit) - 5}" text-anchor="end" font-size="11" fill="#c00">limit ${panel.limit} ms</text>`,
        ]),
    `<text x="${offsetX + MARGIN.left + plotW / 2}" y="${PANEL_HEIGHT - 10}" text-anchor="middle" font-size="12">load: forwarded packets/s (nominal)</text>`,
    `<text transform="translate(${offsetX + 16} ${MARGIN.top + plotH / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(panel.yLabel)}</text>`,
  );
  for (const [target, points] of series) {
    const color = COLORS[target] ?? "#444";
    points.sort((a, b) => a.x - b.x);
    const path = points
      .map((p, i) => `${i === 0 ? "M" : "L"}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`)
      .join(" ");
    parts.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="2"/>`);
    for (const p of points) {
      parts.push(
        `<circle cx="${sx(p.x).toFixed(1)}" cy="${sy(p.y).toFixed(1)}" r="3.5" fill="${p.passed ? color : "#fff"}" stroke="${color}" stroke-width="1.5"><title>${esc(
          `${targetLabel(target)} ${p.label}: ${p.y.toFixed(2)}`,
        )}</title></circle>`,
      );
    }
  }
  return parts.join("\n");
}

/** The whole chart as an SVG document. */
export function renderChart(results: readonly ScenarioResult[]): string {
  const panels: Panel[] = [
    {
      title: "Server CPU per forwarded packet",
      yLabel: "µs / packet",
      value: (r) => r.cpuMicrosPerPacket,
      log: false,
    },
    {
      title: "One-way latency p99",
      yLabel: "ms (log scale)",
      value: (r) => r.latencyMs.p99,
      log: true,
      limit: PASS_P99_MS,
    },
  ];
  const width = PANEL_WIDTH * panels.length;
  const targets = [...new Set(results.map((r) => r.target))];
  // Up to two targets leave room for the note beside the legend; more push it onto a line of its own.
  const noteBelow = targets.length > 2;
  const height = PANEL_HEIGHT + (noteBelow ? 50 : 30);
  const legend = targets
    .map((target, i) => {
      const x = 70 + i * LEGEND_ITEM_WIDTH;
      const color = COLORS[target] ?? "#444";
      return `<rect x="${x}" y="${PANEL_HEIGHT + 8}" width="14" height="14" fill="${color}"/><text x="${x + 20}" y="${PANEL_HEIGHT + 20}" font-size="12">${esc(targetLabel(target))}</text>`;
    })
    .join("\n");
  const noteX = noteBelow ? 70 : 70 + targets.length * LEGEND_ITEM_WIDTH;
  const noteY = PANEL_HEIGHT + (noteBelow ? 40 : 20);
  const note = `<text x="${noteX}" y="${noteY}" font-size="12" fill="#555">hollow: delivery &lt; 99.5 %, p99 &gt; ${PASS_P99_MS} ms or a peer not connected</text>`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    ...panels.map((panel, i) => panelSvg(panel, results, i * PANEL_WIDTH)),
    legend,
    note,
    `</svg>`,
    "",
  ].join("\n");
}
