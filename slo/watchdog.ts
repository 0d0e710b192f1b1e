import type { SloDefinition, SloPhaseResult } from './types.ts';
import type { PrometheusClient } from './prometheus-client.ts';
import { evaluateSlos } from './evaluate.ts';
import type { HistogramStorage } from './promql.ts';

/**
 * Critical-SLO watchdog, like k6's `abortOnFail`: while the load runs, every `everyMs` it judges
 * each `critical` SLO over everything since the load started, and calls `onBreach` once, on the
 * first `fail`, so the run can stop early instead of hammering a system that already broke its
 * promise.
 *
 * It judges exactly as the phase verdicts do, by calling `evaluateSlos` with a synthetic phase
 * `{ name: 'running', kind: 'overall', start: since, end: now − one scrape }` (ending one scrape
 * ago, so the evaluator never waits and never judges a moment Prometheus has not scraped yet). The
 * SLOs are judged in that phase whatever phases they list: a critical promise holds at all times.
 *
 * Fail closed, the other way round: `inconclusive` (no data yet, Prometheus unreachable, too few
 * samples) is not a breach — aborting a run for lack of data would hide the data's absence behind
 * a failure. Those results are collected (`status().inconclusive`) and passed to `onInconclusive`,
 * and the final phase verdicts report them.
 */

export interface WatchdogOptions {
  client: PrometheusClient;
  /** Only the SLOs of severity `critical` are watched; the others are ignored. */
  slos: readonly SloDefinition[];
  /** Epoch ms: the load's start, the start of every window judged. */
  since: number;
  /** A check starts every `everyMs`, or as soon as the previous one ends if it took longer: never two at once. Default 2000. */
  everyMs?: number;
  /** No check before the window is this long (k6's delayAbortEval). Default 5. */
  minWindowSeconds?: number;
  /** The scrape interval Prometheus was configured with. Default 1. */
  scrapeIntervalSeconds?: number;
  /** As in `evaluateSlos`: the scrape job behind each side's metrics. */
  jobs?: { client: string | null; server: string | null };
  /** As in `evaluateSlos`: classic buckets (the embedded engine) or native histograms (k6's remote write). */
  clientHistograms?: HistogramStorage;
  /** Called once, with the first failing result; no check runs after it. */
  onBreach: (result: SloPhaseResult) => void | Promise<void>;
  /** Called with each check's inconclusive results (for logging). */
  onInconclusive?: (results: SloPhaseResult[]) => void;
  /** Called when a check or a callback throws; the watchdog carries on. */
  onError?: (error: unknown) => void;
}

export interface WatchdogStatus {
  /** Checks completed. */
  checks: number;
  /** The result that triggered `onBreach`, once it has. */
  breach?: SloPhaseResult;
  /** The latest inconclusive result of each SLO that was inconclusive at its latest check. */
  inconclusive: SloPhaseResult[];
  /** Errors thrown by checks or callbacks (never rethrown). */
  errors: unknown[];
}

export interface Watchdog {
  /** Stops checking: aborts a check in flight and resolves once it has settled. Idempotent. */
  stop(): Promise<void>;
  status(): WatchdogStatus;
}

/** The synthetic phase's name in the results the watchdog hands out. */
export const WATCHDOG_PHASE = 'running';

export function startWatchdog(options: WatchdogOptions): Watchdog {
  const everyMs = options.everyMs ?? 2_000;
  const minWindowSeconds = options.minWindowSeconds ?? 5;
  const scrapeIntervalSeconds = options.scrapeIntervalSeconds ?? 1;
  const scrapeMs = scrapeIntervalSeconds * 1000;
  if (!(everyMs > 0)) throw new RangeError(`everyMs must be positive, got ${everyMs}`);
  // The evaluator needs at least two scrapes in a window.
  if (!(minWindowSeconds >= 2 * scrapeIntervalSeconds)) throw new RangeError(`minWindowSeconds must be at least two scrape intervals (${2 * scrapeIntervalSeconds}), got ${minWindowSeconds}`);
  const watched = options.slos.filter((slo) => slo.severity === 'critical').map((slo) => ({ ...slo, phases: ['overall' as const] }));

  const state: WatchdogStatus = { checks: 0, inconclusive: [], errors: [] };
  const latestInconclusive = new Map<string, SloPhaseResult>();
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;
  let stopped = false;

  const reportError = (error: unknown): void => {
    state.errors.push(error);
    try {
      options.onError?.(error);
    } catch {
      // A failing error handler must not turn into an unhandled rejection; the error is kept above.
    }
  };

  const check = async (): Promise<void> => {
    const end = Date.now() - scrapeMs;
    const results = await evaluateSlos({
      client: options.client,
      slos: watched,
      phases: [{ name: WATCHDOG_PHASE, kind: 'overall', start: options.since, end }],
      scrapeIntervalSeconds,
      jobs: options.jobs,
      ...(options.clientHistograms ? { clientHistograms: options.clientHistograms } : {}),
      signal: controller.signal,
    });
    if (stopped) return;
    state.checks++;
    const inconclusive: SloPhaseResult[] = [];
    for (const result of results) {
      if (result.verdict === 'inconclusive') {
        latestInconclusive.set(result.slo, result);
        inconclusive.push(result);
      } else {
        latestInconclusive.delete(result.slo);
      }
    }
    state.inconclusive = [...latestInconclusive.values()];
    const breach = results.find((r) => r.verdict === 'fail');
    if (breach !== undefined) {
      state.breach = breach;
      stopped = true; // once breached, the run is being stopped: no further checks
    }
    if (inconclusive.length > 0) {
      try {
        options.onInconclusive?.(inconclusive);
      } catch (error) {
        reportError(error); // a logging hook must not hide a breach
      }
    }
    if (breach !== undefined) await options.onBreach(breach);
  };

  const schedule = (delayMs: number): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      const started = Date.now();
      inFlight = check()
        .catch((error: unknown) => {
          // stop() aborting the check in flight is not an error.
          if (!(controller.signal.aborted && error === controller.signal.reason)) reportError(error);
        })
        .finally(() => {
          inFlight = undefined;
          schedule(Math.max(0, everyMs - (Date.now() - started)));
        });
    }, delayMs);
    // The watchdog alone must not keep the process alive.
    timer.unref();
  };

  // First check as soon as the window is long enough and has been scraped to its end.
  if (watched.length > 0) schedule(Math.max(0, options.since + minWindowSeconds * 1000 + scrapeMs - Date.now()));

  return {
    async stop(): Promise<void> {
      stopped = true;
      clearTimeout(timer);
      controller.abort(new Error('watchdog stopped'));
      await inFlight;
    },
    status: () => ({ ...state, inconclusive: [...state.inconclusive], errors: [...state.errors] }),
  };
}
