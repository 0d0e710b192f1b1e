import type { SloPhaseResult } from './types.ts';
import { formatPercent } from './promql.ts';

/**
 * Client/server divergence: the same promise measured at both ends of the request path.
 *
 * The client side (the load driver's k6-named metrics) sees what users see through the ingress,
 * retries included; the server side (the API's own metrics) sees only the requests that reached a
 * replica. When they disagree beyond a tolerance, the difference is itself the finding: errors the
 * API never saw (refused connections while a pod was deleted, retries exhausted at the ingress) or
 * time spent outside the API (queuing, retries after a deleted replica). Pure: works on the
 * evaluator's results and queries nothing.
 */

/** Two SLOs of the same kind measuring the same thing from the client and from the server. */
export interface SloPair {
  kind: 'ratio' | 'latency';
  client: string;
  server: string;
}

/** hasteCRM API's pairs (slo/api.ts). */
export const DEFAULT_SLO_PAIRS: readonly SloPair[] = [
  { kind: 'ratio', client: 'api-client-success-ratio', server: 'api-server-success-ratio' },
  { kind: 'latency', client: 'api-client-latency-p95', server: 'api-server-latency-p95' },
];

/**
 * How far the two sides may differ before it is reported.
 *
 * - Ratios: 1 percentage point (0.01). The objective is 99 %, so 1 point is the whole error
 *   budget: a gap that size can make one side pass and the other fail on its own. Below it, the
 *   two sides legitimately differ by noise: their jobs are scraped at different moments, so a
 *   phase boundary cuts each side's counters up to one scrape apart, and at 50 req/s over 5–10 s
 *   phases one request is 0.2–0.4 points.
 * - Latency: more than 100 ms AND more than 50 % apart (relative to the smaller of the two).
 *   Either alone misfires: the client always adds the ingress, connection setup and its own
 *   scheduling lag, which is tens of ms at low latency (12 ms vs 5 ms is +140 % and means
 *   nothing), while at high latency 100 ms is small (2.1 s vs 2.0 s). Quantiles interpolated
 *   inside histogram buckets are also only as precise as the buckets, easily tens of ms at 0.1–0.5 s.
 */
export interface DivergenceTolerance {
  /** Largest allowed |client − server| of a success ratio, as a fraction (0.01 = 1 percentage point). */
  ratio: number;
  /** Latency: the absolute gap (ms) that must be exceeded… */
  latencyMs: number;
  /** …and the relative gap (0.5 = 50 % of the smaller value) that must also be exceeded. */
  latencyRelative: number;
}

export const DEFAULT_DIVERGENCE_TOLERANCE: DivergenceTolerance = { ratio: 0.01, latencyMs: 100, latencyRelative: 0.5 };

/** One side of a comparison, as the evaluator judged it. */
export interface SideValue {
  slo: string;
  /** The SLO's value (ratio 0..1 or milliseconds); null when that side has none. */
  value: number | null;
  samples: number;
  verdict: SloPhaseResult['verdict'] | 'missing';
}

/** One pair compared in one phase. */
export interface Divergence {
  phase: string;
  kind: 'ratio' | 'latency';
  client: SideValue;
  server: SideValue;
  /** client − server in the SLOs' unit (ratio 0..1, or ms); null when either value is missing. */
  delta: number | null;
  /** The tolerance applied, as people read it: "1 percentage point", "100 ms and 50 %". */
  tolerance: string;
  /**
   * true: the sides differ beyond the tolerance; false: they agree within it; null: they cannot be
   * compared (a side has no value or could not be judged) — never `false` for lack of data.
   */
  diverged: boolean | null;
  /** One or two sentences: what each side saw and what a divergence usually means. */
  note: string;
}

export interface DivergenceOptions {
  pairs?: readonly SloPair[];
  tolerance?: Partial<DivergenceTolerance>;
}

/**
 * Compares each pair in every phase in which either side has a result, in the order the phases
 * first appear in `results`, pair by pair.
 */
export function compareClientServer(results: readonly SloPhaseResult[], options: DivergenceOptions = {}): Divergence[] {
  const pairs = options.pairs ?? DEFAULT_SLO_PAIRS;
  const tolerance = { ...DEFAULT_DIVERGENCE_TOLERANCE, ...options.tolerance };
  const phases = [...new Set(results.map((r) => r.phase))];
  const out: Divergence[] = [];
  for (const phase of phases) {
    for (const pair of pairs) {
      const client = results.find((r) => r.phase === phase && r.slo === pair.client);
      const server = results.find((r) => r.phase === phase && r.slo === pair.server);
      if (client === undefined && server === undefined) continue;
      out.push(comparePair(phase, pair, client, server, tolerance));
    }
  }
  return out;
}

function comparePair(phase: string, pair: SloPair, client: SloPhaseResult | undefined, server: SloPhaseResult | undefined, tolerance: DivergenceTolerance): Divergence {
  const side = (slo: string, result: SloPhaseResult | undefined): SideValue =>
    result === undefined ? { slo, value: null, samples: 0, verdict: 'missing' } : { slo, value: result.value, samples: result.samples, verdict: result.verdict };
  const base = {
    phase,
    kind: pair.kind,
    client: side(pair.client, client),
    server: side(pair.server, server),
    tolerance: pair.kind === 'ratio' ? percentagePoints(tolerance.ratio) : `${tolerance.latencyMs} ms and ${Math.round(tolerance.latencyRelative * 100)} %`,
  };
  const uncomparable = whyUncomparable(phase, [
    ['client', pair.client, client],
    ['server', pair.server, server],
  ]);
  if (uncomparable !== undefined) return { ...base, delta: null, diverged: null, note: uncomparable };
  // whyUncomparable guarantees both values are finite numbers.
  const clientValue = client?.value ?? NaN;
  const serverValue = server?.value ?? NaN;
  const delta = clientValue - serverValue;
  return pair.kind === 'ratio'
    ? { ...base, delta, ...ratioVerdict(clientValue, serverValue, delta, tolerance) }
    : { ...base, delta, ...latencyVerdict(clientValue, serverValue, delta, tolerance) };
}

function whyUncomparable(phase: string, sides: [string, string, SloPhaseResult | undefined][]): string | undefined {
  for (const [name, slo, result] of sides) {
    if (result === undefined) return `Cannot compare: the ${name} side (${slo}) has no result in phase ${phase}.`;
    if (result.value === null || !Number.isFinite(result.value)) return `Cannot compare: the ${name} side (${slo}) has no value in phase ${phase}${result.reason ? ` (${result.reason})` : '.'}`;
    // A value that could not be judged (too few samples, missing scrapes) is no basis for "they agree".
    if (result.verdict === 'inconclusive') return `Cannot compare: the ${name} side (${slo}) was inconclusive in phase ${phase}${result.reason ? ` (${result.reason})` : '.'}`;
  }
  return undefined;
}

/** 0.985 − 0.995 is −0.01000000000000001 in floating point: a gap exactly at the tolerance is within it. */
const FLOAT_SLACK = 1e-9;

function ratioVerdict(client: number, server: number, delta: number, tolerance: DivergenceTolerance): { diverged: boolean; note: string } {
  const saw = `The client saw ${errorText(client)} errors, the server ${errorText(server)}`;
  if (Math.abs(delta) <= tolerance.ratio + FLOAT_SLACK) return { diverged: false, note: `${saw}: within ${percentagePoints(tolerance.ratio)}.` };
  if (delta < 0) {
    return {
      diverged: true,
      note: `${saw}: requests failed before reaching the API (refused connections during pod deletion, ingress timeouts, retries exhausted).`,
    };
  }
  return {
    diverged: true,
    note: `${saw}: the API answered errors that users did not see (the ingress retried them on another replica), or it counted requests the load did not send.`,
  };
}

function latencyVerdict(client: number, server: number, delta: number, tolerance: DivergenceTolerance): { diverged: boolean; note: string } {
  const saw = `The client's value was ${Math.round(client)} ms, the server's ${Math.round(server)} ms`;
  const smaller = Math.min(client, server);
  const beyondAbsolute = Math.abs(delta) > tolerance.latencyMs + FLOAT_SLACK;
  const beyondRelative = Math.abs(delta) > tolerance.latencyRelative * smaller + FLOAT_SLACK;
  if (!(beyondAbsolute && beyondRelative)) {
    return { diverged: false, note: `${saw}: within ${tolerance.latencyMs} ms or ${Math.round(tolerance.latencyRelative * 100)} %.` };
  }
  if (delta > 0) {
    return {
      diverged: true,
      note: `${saw}: time was spent outside the API (queuing at the ingress, retries after a deleted replica, connection setup, or the load generator's own lag).`,
    };
  }
  return {
    diverged: true,
    note: `${saw}: the API recorded slower requests than users saw (requests the client gave up on or the ingress retried elsewhere, or traffic the load did not send).`,
  };
}

/** 0.979 → "2.1 %" of errors. */
function errorText(successRatio: number): string {
  return formatPercent(1 - successRatio).replace('%', ' %');
}

function percentagePoints(fraction: number): string {
  const points = Number((fraction * 100).toFixed(2));
  return `${points} percentage point${points === 1 ? '' : 's'}`;
}
