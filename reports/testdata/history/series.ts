import { readFileSync } from 'node:fs';
import type { RunResult } from '../../result.ts';
import type { SloPhaseResult } from '../../../slo/types.ts';

/**
 * A realistic series of run results for the history and gate tests: every run is the real
 * `result.json` of an `api` run (base-result.json: 4 SLOs × 4 phases, pod-delete chaos) with its
 * figures replaced by controlled values, so a test states exactly what moved.
 */

const BASE = readFileSync(new URL('./base-result.json', import.meta.url), 'utf8');

/** The real run, parsed afresh (callers may mutate it). */
export function baseResult(): RunResult {
  return JSON.parse(BASE) as RunResult;
}

/** Typical figures of a healthy run per phase: client p95 is higher than server p95 (ingress, retries). */
export const TYPICAL: Record<string, Record<string, number>> = {
  baseline: { 'api-client-success-ratio': 1, 'api-client-latency-p95': 20, 'api-server-success-ratio': 1, 'api-server-latency-p95': 5 },
  'pod-delete': { 'api-client-success-ratio': 0.999, 'api-client-latency-p95': 30, 'api-server-success-ratio': 0.998, 'api-server-latency-p95': 6 },
  recovery: { 'api-client-success-ratio': 1, 'api-client-latency-p95': 18, 'api-server-success-ratio': 1, 'api-server-latency-p95': 5 },
  overall: { 'api-client-success-ratio': 0.9995, 'api-client-latency-p95': 24, 'api-server-success-ratio': 0.9993, 'api-server-latency-p95': 5.5 },
};

/** Night-to-night jitter, a fixed sequence so the tests are deterministic: a fraction of each latency. */
const JITTER = [0, 0.04, -0.03, 0.02, -0.05, 0.03, -0.01, 0.05, -0.02, 0.01];

export interface RunSpec {
  /** Position in the series: run i starts i hours after the first. */
  index: number;
  verdict?: RunResult['verdict'];
  status?: RunResult['status'];
  suite?: string;
  /** Multiplies every latency's jitter (0 = identical nights, 5 = a noisy history). */
  noise?: number;
  /** Exact values for some figures: `{ 'pod-delete': { 'api-client-latency-p95': 180 } }`; null = no value (inconclusive). */
  set?: Record<string, Record<string, number | null>>;
  rate?: number;
  gitCommit?: string;
}

const SERIES_START = Date.parse('2026-11-01T02:00:00.000Z');

/** Run i of the series with the typical figures, jittered, and the spec's overrides. */
export function makeRun(spec: RunSpec): RunResult {
  const run = baseResult();
  const startedAt = new Date(SERIES_START + spec.index * 3_600_000);
  run.runId = `${spec.suite ?? 'api'}-${startedAt.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-')}-${String(spec.index).padStart(4, '0')}`;
  run.suite = spec.suite ?? 'api';
  run.startedAt = startedAt.toISOString();
  run.finishedAt = new Date(startedAt.getTime() + 40_000).toISOString();
  run.status = spec.status ?? 'completed';
  run.verdict = spec.verdict ?? 'pass';
  run.exitCode = run.verdict === 'pass' ? 0 : run.verdict === 'fail' ? 1 : 3;
  run.reason = run.verdict === 'pass' ? `All ${run.slos.length} SLO checks passed in every phase.` : `run ${spec.index} did not pass`;
  if (spec.rate !== undefined && run.load) run.load.targetRate = spec.rate;
  run.environment.gitCommit = spec.gitCommit ?? `${spec.index.toString(16).padStart(4, '0')}${'c0ffee'.repeat(6)}`;
  const jitter = (JITTER[spec.index % JITTER.length] ?? 0) * (spec.noise ?? 1);
  run.slos = run.slos.map((s): SloPhaseResult => {
    const typical = TYPICAL[s.phase]?.[s.slo];
    const override = spec.set?.[s.phase]?.[s.slo];
    let value: number | null = typical === undefined ? s.value : s.threshold.endsWith('ms') ? typical * (1 + jitter) : typical;
    if (override !== undefined) value = override;
    if (value === null) return { ...s, value: null, verdict: 'inconclusive', reason: 'only 3 samples (20 needed)' };
    return { ...s, value, verdict: judge(s, value) };
  });
  return run;
}

/** The verdict the evaluator would give the value against the api SLOs' objectives. */
function judge(s: SloPhaseResult, value: number): SloPhaseResult['verdict'] {
  if (s.threshold.endsWith('%')) return value >= 0.99 ? 'pass' : 'fail';
  if (s.threshold.endsWith('ms')) return value < 500 ? 'pass' : 'fail';
  return s.verdict;
}

/** `count` passing runs starting at index `from`. */
export function passingSeries(count: number, from = 0, spec: Omit<RunSpec, 'index'> = {}): RunResult[] {
  return Array.from({ length: count }, (_, i) => makeRun({ ...spec, index: from + i }));
}
