import { escapeHtml as e } from './escape.ts';

/**
 * Inline SVG line charts for the HTML report: no script, no external resource, readable printed in
 * grey (series differ by dash pattern as well as by colour). Pure functions of their input.
 */

export interface SeriesStyle {
  /** Any SVG colour. Default: the next colour of a fixed palette. */
  color?: string;
  /** Default `solid`. */
  dash?: 'solid' | 'dashed' | 'dotted';
  /** Stroke width in px. Default 1.75. */
  width?: number;
}

export interface ChartSeries {
  label: string;
  /** `[epoch ms, value]`, oldest first. Missing steps and non-finite values are drawn as breaks. */
  points: readonly (readonly [number, number])[];
  style?: SeriesStyle;
}

/** `fault` windows are shaded and labelled; `baseline` and `recovery` get a thin band above the plot and a small label. */
export type ChartWindowKind = 'fault' | 'baseline' | 'recovery';

export interface ChartWindow {
  /** Epoch ms. */
  start: number;
  end: number;
  label: string;
  kind: ChartWindowKind;
}

export interface LineChartOptions {
  title: string;
  /** Shown on the value axis and in the accessible description ("req/s", "ms", "%"). */
  unit: string;
  series: readonly ChartSeries[];
  windows?: readonly ChartWindow[];
  /** Epoch ms at x = 0: the time axis counts seconds from here (the start of load). */
  origin: number;
  /** Epoch ms at the right edge. Default: the latest point or window end. Points outside [origin, end] are not drawn. */
  end?: number;
  /**
   * The distance between consecutive points of the data's grid: points further apart than 1.5
   * steps are not joined (a gap). Default: the smallest distance between consecutive points.
   */
  stepMs?: number;
  /** Value ticks on whole numbers only (counts, such as replicas). */
  integerTicks?: boolean;
  /** Default "time since the start of load". */
  xAxisLabel?: string;
  /** The SVG's size in px (it scales with its container). Default 720 × 260. */
  width?: number;
  height?: number;
}

const PALETTE = ['#0969da', '#bc4c00', '#1a7f37', '#8250df', '#cf222e', '#6e7781'];
const DASH: Record<NonNullable<SeriesStyle['dash']>, string> = { solid: '', dashed: '6 4', dotted: '1.5 3' };
const WINDOW_FILL: Record<ChartWindowKind, string> = { fault: '#cf222e', baseline: '#0969da', recovery: '#1a7f37' };
const MARGIN = { left: 58, right: 16, top: 40, xTicks: 22, xLabel: 18, legendRow: 18 };
const FONT = 'system-ui, -apple-system, Segoe UI, sans-serif';

/** An SVG line chart as a string, every label escaped, for inlining into HTML (hence no xmlns, which HTML does not need). */
export function renderLineChart(options: LineChartOptions): string {
  const width = options.width ?? 720;
  const height = options.height ?? 260;
  const windows = options.windows ?? [];
  const styled = options.series.map((s, i) => ({ ...s, color: s.style?.color ?? PALETTE[i % PALETTE.length] ?? '#000', dash: s.style?.dash ?? 'solid', strokeWidth: s.style?.width ?? 1.75 }));

  const lastTime = Math.max(options.origin, ...options.series.flatMap((s) => s.points.map(([t]) => t)), ...windows.map((w) => w.end));
  const end = options.end !== undefined && options.end > options.origin ? options.end : lastTime > options.origin ? lastTime : options.origin + 1000;
  const inRange = styled.map((s) => ({ ...s, points: s.points.filter(([t, v]) => t >= options.origin && t <= end && Number.isFinite(v)) }));
  const values = inRange.flatMap((s) => s.points.map(([, v]) => v));
  const y = valueScale(values, options.integerTicks ?? false);

  const legend = legendLayout(inRange.map((s) => s.label), width - MARGIN.left - MARGIN.right);
  const plot = {
    left: MARGIN.left,
    right: width - MARGIN.right,
    top: MARGIN.top,
    bottom: height - MARGIN.xTicks - MARGIN.xLabel - legend.rows * MARGIN.legendRow - 4,
  };
  const xOf = (t: number): number => plot.left + ((t - options.origin) / (end - options.origin)) * (plot.right - plot.left);
  const yOf = (v: number): number => plot.bottom - ((v - y.min) / (y.max - y.min)) * (plot.bottom - plot.top);
  const stepMs = options.stepMs ?? smallestStep(inRange.map((s) => s.points));

  const parts: string[] = [];
  parts.push(`<rect class="plot" x="${n(plot.left)}" y="${n(plot.top)}" width="${n(plot.right - plot.left)}" height="${n(plot.bottom - plot.top)}" fill="#fff" stroke="#d0d7de"/>`);
  parts.push(...windows.map((w) => windowMarkup(w, xOf, plot, options.origin, end)));
  for (const tick of y.ticks) {
    const ty = yOf(tick);
    parts.push(`<g class="y-tick" data-value="${tick}"><line x1="${n(plot.left)}" x2="${n(plot.right)}" y1="${n(ty)}" y2="${n(ty)}" stroke="#eaeef2"/><text x="${n(plot.left - 6)}" y="${n(ty + 4)}" text-anchor="end">${e(formatTick(tick, y.step))}</text></g>`);
  }
  for (const seconds of timeTicks((end - options.origin) / 1000, plot.right - plot.left)) {
    const tx = xOf(options.origin + seconds * 1000);
    parts.push(`<g class="x-tick" data-seconds="${seconds}"><line x1="${n(tx)}" x2="${n(tx)}" y1="${n(plot.bottom)}" y2="${n(plot.bottom + 4)}" stroke="#57606a"/><text x="${n(tx)}" y="${n(plot.bottom + 16)}" text-anchor="middle">${e(formatSeconds(seconds))}</text></g>`);
  }
  parts.push(`<line class="axis" x1="${n(plot.left)}" x2="${n(plot.right)}" y1="${n(plot.bottom)}" y2="${n(plot.bottom)}" stroke="#57606a"/>`);
  parts.push(`<line class="axis" x1="${n(plot.left)}" x2="${n(plot.left)}" y1="${n(plot.top)}" y2="${n(plot.bottom)}" stroke="#57606a"/>`);
  parts.push(`<text class="unit" x="${n(plot.left - 6)}" y="${n(plot.top - 6)}" text-anchor="end" fill="#57606a">${e(options.unit)}</text>`);
  parts.push(`<text class="x-label" x="${n((plot.left + plot.right) / 2)}" y="${n(plot.bottom + MARGIN.xTicks + 12)}" text-anchor="middle" fill="#57606a">${e(options.xAxisLabel ?? 'time since the start of load')}</text>`);
  for (const s of inRange) parts.push(seriesMarkup(s, xOf, yOf, stepMs));
  const legendTop = plot.bottom + MARGIN.xTicks + MARGIN.xLabel + 10;
  parts.push(
    ...inRange.map((s, i) => {
      const { x, row } = legend.positions[i] ?? { x: 0, row: 0 };
      const ly = legendTop + row * MARGIN.legendRow;
      const lx = plot.left + x;
      return `<g class="legend-item"><line x1="${n(lx)}" x2="${n(lx + 22)}" y1="${n(ly - 4)}" y2="${n(ly - 4)}" stroke="${e(s.color)}" stroke-width="${n(s.strokeWidth + 0.5)}"${dashAttr(s.dash)}/><text x="${n(lx + 28)}" y="${n(ly)}">${e(s.label)}${s.points.length === 0 ? ' (no data)' : ''}</text></g>`;
    }),
  );

  const description = describeChart(options, inRange, windows, end);
  return `<svg class="line-chart" role="img" aria-label="${e(description)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-family="${FONT}" font-size="11" fill="#1f2328">
<title>${e(options.title)}</title>
<desc>${e(description)}</desc>
<text class="chart-title" x="${n(plot.left)}" y="16" font-size="13" font-weight="600">${e(options.title)}</text>
${parts.join('\n')}
</svg>`;
}

/**
 * Splits points into runs drawn as one line each: a new run starts where the next point is more
 * than 1.5 steps away. Exported for tests.
 */
export function splitAtGaps(points: readonly (readonly [number, number])[], stepMs: number): (readonly [number, number])[][] {
  const runs: (readonly [number, number])[][] = [];
  let current: (readonly [number, number])[] = [];
  let previous: number | undefined;
  for (const point of points) {
    if (!Number.isFinite(point[1])) {
      if (current.length) runs.push(current);
      current = [];
      previous = undefined;
      continue;
    }
    if (previous !== undefined && point[0] - previous > stepMs * 1.5) {
      runs.push(current);
      current = [];
    }
    current.push(point);
    previous = point[0];
  }
  if (current.length) runs.push(current);
  return runs;
}

/**
 * "Nice" value ticks (steps of 1, 2, 2.5 or 5 × 10^k) covering `min..max`, about `target` of them.
 * Exported for tests.
 */
export function niceTicks(min: number, max: number, target = 5, integer = false): { min: number; max: number; step: number; ticks: number[] } {
  let lo = Math.min(min, max);
  let hi = Math.max(min, max);
  if (hi === lo) hi = lo + (integer ? 1 : Math.abs(lo) || 1);
  const rough = (hi - lo) / Math.max(1, target);
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  let step = ([1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((s) => s >= rough) ?? 10 * magnitude);
  if (integer) step = Math.max(1, Math.ceil(step));
  lo = Math.floor(lo / step + 1e-9) * step;
  hi = Math.ceil(hi / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let k = 0; lo + k * step <= hi + step * 1e-9; k++) ticks.push(Number((lo + k * step).toPrecision(12)));
  return { min: lo, max: hi, step, ticks };
}

function valueScale(values: readonly number[], integer: boolean): ReturnType<typeof niceTicks> {
  // Zero stays on the axis: rates, ratios, latencies and counts read honestly only from zero.
  const min = Math.min(0, ...values);
  const max = Math.max(0, ...values);
  // A little headroom, so a line at the maximum (3 of 3 replicas up) does not vanish into the frame.
  return niceTicks(min, max + (max - min) * 0.04, 5, integer);
}

/** Time ticks in seconds from the origin, at a round step leaving about 60 px between labels. */
function timeTicks(spanSeconds: number, plotWidth: number): number[] {
  const most = Math.max(2, Math.floor(plotWidth / 60));
  const step = [1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200].find((s) => spanSeconds / s <= most) ?? Math.ceil(spanSeconds / most / 3600) * 3600;
  const ticks: number[] = [];
  for (let s = 0; s <= spanSeconds + 1e-9; s += step) ticks.push(s);
  return ticks;
}

function formatSeconds(seconds: number): string {
  if (seconds >= 60 && seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

/** Enough decimals to tell the ticks apart: a step of 2.5 × 10^k needs one more than 10^k. */
function formatTick(value: number, step: number): string {
  const k = Math.floor(Math.log10(step) + 1e-9);
  const mantissa = step / 10 ** k;
  const decimals = Math.max(0, -k + (Number.isInteger(Number(mantissa.toPrecision(6))) ? 0 : 1));
  return value.toFixed(Math.min(decimals, 6));
}

function smallestStep(series: readonly (readonly (readonly [number, number])[])[]): number {
  let smallest = Infinity;
  for (const points of series) {
    for (let i = 1; i < points.length; i++) {
      const d = (points[i]?.[0] ?? 0) - (points[i - 1]?.[0] ?? 0);
      if (d > 0 && d < smallest) smallest = d;
    }
  }
  return Number.isFinite(smallest) ? smallest : 1000;
}

type Plot = { left: number; right: number; top: number; bottom: number };

function windowMarkup(w: ChartWindow, xOf: (t: number) => number, plot: Plot, origin: number, end: number): string {
  const start = Math.max(w.start, origin);
  const stop = Math.min(w.end, end);
  if (!(stop > start)) return '';
  const x = xOf(start);
  const width = xOf(stop) - x;
  const common = `data-kind="${e(w.kind)}" data-start-s="${n((w.start - origin) / 1000)}" data-end-s="${n((w.end - origin) / 1000)}"`;
  const title = `<title>${e(`${w.label}: ${n((w.start - origin) / 1000)} s → ${n((w.end - origin) / 1000)} s`)}</title>`;
  if (w.kind === 'fault') {
    return `<g class="window fault" ${common}>${title}<rect x="${n(x)}" y="${n(plot.top)}" width="${n(width)}" height="${n(plot.bottom - plot.top)}" fill="${WINDOW_FILL.fault}" fill-opacity="0.1" stroke="${WINDOW_FILL.fault}" stroke-opacity="0.45" stroke-dasharray="3 3"/><text x="${n(x + 3)}" y="${n(plot.top - 7)}" fill="${WINDOW_FILL.fault}" font-weight="600">${e(w.label)}</text></g>`;
  }
  return `<g class="window ${e(w.kind)}" ${common}>${title}<rect x="${n(x)}" y="${n(plot.top - 3)}" width="${n(width)}" height="3" fill="${WINDOW_FILL[w.kind]}" fill-opacity="0.4"/><text x="${n(x + 3)}" y="${n(plot.top - 7)}" fill="#57606a">${e(w.label)}</text></g>`;
}

function seriesMarkup(
  s: { label: string; points: readonly (readonly [number, number])[]; color: string; dash: NonNullable<SeriesStyle['dash']>; strokeWidth: number },
  xOf: (t: number) => number,
  yOf: (v: number) => number,
  stepMs: number,
): string {
  const runs = splitAtGaps(s.points, stepMs);
  const lines = runs.filter((r) => r.length > 1).map((r) => r.map(([t, v], i) => `${i === 0 ? 'M' : 'L'}${n(xOf(t))},${n(yOf(v))}`).join(' '));
  // A point between two gaps has no neighbour to join: it is drawn as a dot rather than lost.
  const dots = runs.filter((r) => r.length === 1).map((r) => r[0]).filter((p) => p !== undefined);
  const path = lines.length ? `<path d="${lines.join(' ')}" fill="none" stroke="${e(s.color)}" stroke-width="${n(s.strokeWidth)}" stroke-linejoin="round"${dashAttr(s.dash)}/>` : '';
  const circles = dots.map(([t, v]) => `<circle cx="${n(xOf(t))}" cy="${n(yOf(v))}" r="${n(s.strokeWidth + 0.75)}" fill="${e(s.color)}"/>`).join('');
  return `<g class="series" data-label="${e(s.label)}" data-runs="${runs.length}"><title>${e(s.label)}</title>${path}${circles}</g>`;
}

function dashAttr(dash: NonNullable<SeriesStyle['dash']>): string {
  return DASH[dash] ? ` stroke-dasharray="${DASH[dash]}"` : '';
}

/** What a screen reader says, and what the `<desc>` holds: the range of each series and the windows. */
function describeChart(options: LineChartOptions, series: readonly { label: string; points: readonly (readonly [number, number])[] }[], windows: readonly ChartWindow[], end: number): string {
  const unit = options.unit ? ` ${options.unit}` : '';
  const perSeries = series.map((s) => {
    if (s.points.length === 0) return `${s.label}: no data`;
    const values = s.points.map(([, v]) => v);
    return `${s.label}: ${short(Math.min(...values))} to ${short(Math.max(...values))}${unit}`;
  });
  const faults = windows.map((w) => `${w.kind === 'fault' ? 'fault' : w.kind} ${w.label} from ${n((w.start - options.origin) / 1000)} s to ${n((w.end - options.origin) / 1000)} s`);
  return `${options.title} over ${n((end - options.origin) / 1000)} s. ${perSeries.join('; ')}.${faults.length ? ` ${faults.join('; ')}.` : ''}`;
}

function short(value: number): string {
  return String(Number(value.toPrecision(3)));
}

/** Coordinates to 0.1 px: plenty for the eye, and a third of the text. */
function n(value: number): string {
  return String(Math.round(value * 10) / 10);
}

interface LegendLayout {
  rows: number;
  positions: { x: number; row: number }[];
}

/** Legend entries left to right, wrapping to a new row when the next would not fit (widths estimated from the text). */
function legendLayout(labels: readonly string[], available: number): LegendLayout {
  const positions: { x: number; row: number }[] = [];
  let x = 0;
  let row = 0;
  for (const label of labels) {
    const itemWidth = 28 + (label.length + 10) * 6.2 + 16;
    if (x > 0 && x + itemWidth > available) {
      row++;
      x = 0;
    }
    positions.push({ x, row });
    x += itemWidth;
  }
  return { rows: Math.max(1, row + 1), positions };
}
