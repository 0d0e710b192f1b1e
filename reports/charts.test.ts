import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { niceTicks, renderLineChart, splitAtGaps, type LineChartOptions } from './charts.ts';
import { findAll, openXmlParser, type XmlNode, type XmlParser } from './testdata/xml-parser.ts';

// Charts are checked as parsed documents (Chromium's strict XML parser): a stray `<` or `&` in a
// label would make the SVG malformed, and positions are read from attributes, not from text.

const ORIGIN = 1_800_000_000_000;
const at = (seconds: number): number => ORIGIN + seconds * 1000;
const range = (from: number, to: number, value: (s: number) => number): [number, number][] => Array.from({ length: to - from + 1 }, (_, i) => [at(from + i), value(from + i)]);
const hostile = '<script>alert("x")</script> & co';

const base: LineChartOptions = {
  title: 'Request rate',
  unit: 'req/s',
  origin: ORIGIN,
  end: at(24),
  stepMs: 1000,
  series: [
    // 60 until 10 s, nothing at 11–13 s (a gap), then 100.
    { label: 'client', points: [...range(0, 10, () => 60), ...range(14, 24, () => 100)] },
    // A point alone between two gaps at 5 s, and a NaN at 10 s.
    { label: 'server', points: [...range(0, 3, () => 40), [at(5), 60], ...range(7, 9, () => 40), [at(10), NaN], ...range(11, 24, () => 40)], style: { dash: 'dashed', color: '#bc4c00' } },
  ],
  windows: [
    { start: at(0), end: at(5), label: 'baseline', kind: 'baseline' },
    { start: at(5), end: at(15), label: 'pod-delete', kind: 'fault' },
    { start: at(15), end: at(24), label: 'recovery', kind: 'recovery' },
  ],
};

let parser: XmlParser;
let chart: XmlNode;

beforeAll(async () => {
  parser = await openXmlParser();
  chart = await parser.parse(renderLineChart(base));
});

afterAll(async () => {
  await parser?.close();
});

const byClass = (node: XmlNode, tag: string, cls: string): XmlNode[] => findAll(node, tag).filter((n) => (n.attrs.class ?? '').split(' ').includes(cls));
const num = (value: string | undefined): number => {
  const parsed = Number(value);
  if (value === undefined || !Number.isFinite(parsed)) throw new Error(`not a number: ${value}`);
  return parsed;
};

function tickX(node: XmlNode, seconds: number): number {
  const tick = byClass(node, 'g', 'x-tick').find((g) => g.attrs['data-seconds'] === String(seconds));
  if (!tick) throw new Error(`no x tick at ${seconds} s; ticks: ${byClass(node, 'g', 'x-tick').map((g) => g.attrs['data-seconds']).join(', ')}`);
  return num(findAll(tick, 'line')[0]?.attrs.x1);
}

function tickY(node: XmlNode, value: number): number {
  const tick = byClass(node, 'g', 'y-tick').find((g) => g.attrs['data-value'] === String(value));
  if (!tick) throw new Error(`no y tick at ${value}; ticks: ${byClass(node, 'g', 'y-tick').map((g) => g.attrs['data-value']).join(', ')}`);
  return num(findAll(tick, 'line')[0]?.attrs.y1);
}

/** Where a value sits on the value axis, read from two of the chart's own ticks. */
function valueY(node: XmlNode, value: number): number {
  const [y0, y100] = [tickY(node, 0), tickY(node, 100)];
  return y0 + ((y100 - y0) * value) / 100;
}

/** Coordinates are written to 0.1 px, so positions derived from ticks may differ by that much. */
function expectAt(point: readonly number[] | undefined, x: number, y: number): void {
  expect(point, `a point near (${x}, ${y})`).toBeDefined();
  expect(Math.abs((point?.[0] ?? NaN) - x), `x of ${JSON.stringify(point)} vs ${x}`).toBeLessThanOrEqual(0.11);
  expect(Math.abs((point?.[1] ?? NaN) - y), `y of ${JSON.stringify(point)} vs ${y}`).toBeLessThanOrEqual(0.11);
}

function seriesGroup(node: XmlNode, label: string): XmlNode {
  const group = byClass(node, 'g', 'series').find((g) => g.attrs['data-label'] === label);
  if (!group) throw new Error(`no series ${label}`);
  return group;
}

/** The path's points as [x, y], one array per `M` (a run of joined points). */
function runsOf(group: XmlNode): [number, number][][] {
  const d = findAll(group, 'path')[0]?.attrs.d ?? '';
  return d
    .split('M')
    .filter((run) => run.trim())
    .map((run) => run.split('L').map((p) => p.trim().split(',').map(Number) as [number, number]));
}

describe('renderLineChart', () => {
  it('is an accessible image: role, aria-label describing each series and window, and a <title>', () => {
    expect(chart.name).toBe('svg');
    expect(chart.attrs.role).toBe('img');
    expect(chart.children[0]).toMatchObject({ name: 'title', text: 'Request rate' });
    const label = chart.attrs['aria-label'] ?? '';
    expect(label).toContain('Request rate over 24 s.');
    expect(label).toContain('client: 60 to 100 req/s');
    expect(label).toContain('server: 40 to 60 req/s');
    expect(label).toContain('fault pod-delete from 5 s to 15 s');
    expect(findAll(chart, 'desc')[0]?.text).toBe(label);
  });

  it('has time ticks in seconds from the origin and nice value ticks from zero', () => {
    expect(byClass(chart, 'g', 'x-tick').map((g) => g.attrs['data-seconds'])).toEqual(['0', '5', '10', '15', '20']);
    expect(byClass(chart, 'g', 'x-tick').map((g) => findAll(g, 'text')[0]?.text)).toEqual(['0 s', '5 s', '10 s', '15 s', '20 s']);
    expect(byClass(chart, 'g', 'y-tick').map((g) => findAll(g, 'text')[0]?.text)).toEqual(['0', '25', '50', '75', '100', '125']);
    expect(tickY(chart, 0)).toBeGreaterThan(tickY(chart, 100));
    expect(niceTicks(0, 0.75).ticks.map((v) => v.toFixed(2))).toEqual(['0.00', '0.20', '0.40', '0.60', '0.80']);
  });

  it('draws each point at its time and value', () => {
    const [first, second] = runsOf(seriesGroup(chart, 'client'));
    expectAt(first?.[0], tickX(chart, 0), valueY(chart, 60));
    expectAt(first?.[10], tickX(chart, 10), valueY(chart, 60));
    expectAt(second?.[6], tickX(chart, 20), valueY(chart, 100));
  });

  it('breaks the line at gaps and at non-finite values, and draws a point between two gaps as a dot', () => {
    const client = runsOf(seriesGroup(chart, 'client'));
    expect(client.map((r) => r.length), 'client: 0–10 s and 14–24 s, not joined across 11–13 s').toEqual([11, 11]);
    const server = seriesGroup(chart, 'server');
    expect(runsOf(server).map((r) => r.length), 'server: 0–3, 7–9 and 11–24 s (the NaN at 10 s breaks it)').toEqual([4, 3, 14]);
    const dots = findAll(server, 'circle');
    expect(dots).toHaveLength(1);
    expectAt([num(dots[0]?.attrs.cx), num(dots[0]?.attrs.cy)], tickX(chart, 5), valueY(chart, 60));
    expect(findAll(server, 'path')[0]?.attrs['stroke-dasharray'], 'the style is applied').toBe('6 4');
  });

  it('shades the fault window at its start and end, and marks baseline and recovery with a thin band', () => {
    const [fault] = byClass(chart, 'g', 'fault');
    const rect = findAll(fault!, 'rect')[0]!;
    expect(num(rect.attrs.x)).toBeCloseTo(tickX(chart, 5), 1);
    expect(num(rect.attrs.x) + num(rect.attrs.width)).toBeCloseTo(tickX(chart, 15), 1);
    expect(num(rect.attrs.height), 'the full height of the plot').toBeCloseTo(tickY(chart, 0) - tickY(chart, 125), 1);
    expect(findAll(fault!, 'text')[0]?.text).toBe('pod-delete');
    for (const kind of ['baseline', 'recovery']) {
      const [band] = byClass(chart, 'g', kind);
      expect(band, kind).toBeDefined();
      const bandRect = findAll(band!, 'rect')[0];
      expect(num(bandRect?.attrs.height), `${kind} is a thin band`).toBeLessThan(10);
      expect(num(bandRect?.attrs.y) + num(bandRect?.attrs.height), `${kind}'s band sits above the plot, clear of the lines`).toBeLessThanOrEqual(tickY(chart, 125));
      expect(findAll(band!, 'text')[0]?.text).toBe(kind);
    }
    expect(num(findAll(byClass(chart, 'g', 'recovery')[0]!, 'rect')[0]?.attrs.x)).toBeCloseTo(tickX(chart, 15), 1);
  });

  it('has a legend entry per series, saying when a series has nothing to draw', async () => {
    expect(byClass(chart, 'g', 'legend-item').map((g) => findAll(g, 'text')[0]?.text)).toEqual(['client', 'server']);
    const empty = await parser.parse(renderLineChart({ ...base, series: [...base.series, { label: 'replica', points: [] }] }));
    expect(byClass(empty, 'g', 'legend-item').map((g) => findAll(g, 'text')[0]?.text)).toEqual(['client', 'server', 'replica (no data)']);
    expect(findAll(seriesGroup(empty, 'replica'), 'path')).toHaveLength(0);
  });

  it('escapes every label: title, unit, series, windows and colours', async () => {
    const svg = renderLineChart({
      ...base,
      title: hostile,
      unit: hostile,
      series: [{ label: hostile, points: range(0, 24, () => 1), style: { color: '"><script>alert(1)</script>' } }],
      windows: [{ start: at(5), end: at(15), label: hostile, kind: 'fault' }],
    });
    expect(svg).not.toMatch(/<script/i);
    const parsed = await parser.parse(svg);
    expect(findAll(parsed, 'title')[0]?.text).toBe(hostile);
    expect(byClass(parsed, 'text', 'unit')[0]?.text).toBe(hostile);
    expect(findAll(byClass(parsed, 'g', 'fault')[0]!, 'text')[0]?.text).toBe(hostile);
    expect(byClass(parsed, 'g', 'legend-item').map((g) => findAll(g, 'text')[0]?.text)).toEqual([hostile]);
    expect(seriesGroup(parsed, hostile).attrs['data-label']).toBe(hostile);
    expect(parsed.attrs['aria-label']).toContain(hostile);
  });

  it('does not draw points or windows outside [origin, end]', async () => {
    const parsed = await parser.parse(
      renderLineChart({
        ...base,
        series: [{ label: 'client', points: range(-5, 30, () => 10) }],
        windows: [{ start: at(30), end: at(40), label: 'later', kind: 'fault' }],
      }),
    );
    const [run] = runsOf(seriesGroup(parsed, 'client'));
    expect(run).toHaveLength(25);
    expect(run?.[0]?.[0]).toBe(tickX(parsed, 0));
    expect(byClass(parsed, 'g', 'fault')).toHaveLength(0);
  });

  it('uses whole-number ticks for counts, with headroom above the maximum', async () => {
    const parsed = await parser.parse(renderLineChart({ ...base, unit: 'replicas', integerTicks: true, series: [{ label: 'up', points: range(0, 24, (s) => (s > 8 && s < 12 ? 2 : 3)) }] }));
    expect(byClass(parsed, 'g', 'y-tick').map((g) => g.attrs['data-value'])).toEqual(['0', '1', '2', '3', '4']);
  });
});

describe('niceTicks', () => {
  it('covers the range with round steps', () => {
    expect(niceTicks(0, 97)).toMatchObject({ min: 0, max: 100, step: 20 });
    expect(niceTicks(0, 0.3).ticks).toEqual([0, 0.1, 0.2, 0.3]);
    expect(niceTicks(0, 12).ticks).toEqual([0, 2.5, 5, 7.5, 10, 12.5]);
    expect(niceTicks(0, 612).ticks).toEqual([0, 200, 400, 600, 800]);
    expect(niceTicks(0, 3, 5, true).ticks).toEqual([0, 1, 2, 3]);
  });

  it('gives a usable axis for a flat series (all zeros)', () => {
    expect(niceTicks(0, 0)).toMatchObject({ min: 0, max: 1 });
  });
});

describe('splitAtGaps', () => {
  it('starts a new run where the next point is more than 1.5 steps away or not finite', () => {
    const runs = splitAtGaps([[0, 1], [1000, 1], [2600, 1], [3600, Infinity], [4600, 1], [5600, 1]], 1000);
    expect(runs.map((r) => r.map(([t]) => t))).toEqual([[0, 1000], [2600], [4600, 5600]]);
  });
});
