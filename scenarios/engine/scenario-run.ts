/**
 * Runs one scenario, whatever its executor: the shared core of every k6 executor the engine has.
 *
 * Open model (constant- and ramping-arrival-rate): iteration i is due at the time the schedule
 * gives it (schedules.ts) whatever the system's latency. One timer loop starts every due iteration
 * (in batches when the loop wakes up late); a VU freed while iterations are overdue starts the next
 * one in the same event-loop turn instead of waiting for the timer, and latency is measured from the iteration's scheduled
 * start, not from when it was sent, so a stalled server shows up in the percentiles instead of
 * slowing the load down (no coordinated omission). An iteration that finds every VU busy, or that
 * is more than the lateness bound behind schedule, is not sent but counted as dropped.
 *
 * Closed model (constant-vus, ramping-vus, per-vu-iterations, shared-iterations): each active VU
 * starts its next iteration as soon as its last one ended, until the duration, its iteration
 * budget, or a ramp-down stops it; latency counts from the iteration's start.
 *
 * Shared by both: request sending, checks, metrics, per-request timeouts, the graceful stop
 * (in-flight iterations then count as interrupted) and the summary.
 * Accounting invariant, also on abort and close: scheduled = requests + dropped + interrupted.
 */
import type { Dispatcher } from 'undici';
import type { CheckResponse, IterationContext } from '../types.ts';
import { RequestTimeoutError, classifyNetworkError, httpErrorCode } from './error-codes.ts';
import type { ErrorKind } from './error-codes.ts';
import type { LatencyRecorder, RateWindow } from './latency.ts';
import type { EngineMetrics } from './metrics.ts';
import type { ResolvedRequest, ResolvedScenario, ResolvedSchedule } from './resolve.ts';
import type { CheckCounts, LiveStats, LoadSummary } from './results.ts';
import { activeVusAt, arrivalTimes } from './schedules.ts';
import type { ArrivalTimes } from './schedules.ts';
import { SelfHealthMonitor, judgeOverload } from './self-health.ts';

/** An iteration starting later than this behind its schedule is dropped rather than sent. */
export const LATE_START_BOUND_MS = 1_000;
/** The timer loop wakes at least this often, to enforce request timeouts and the graceful stop. */
const MAX_TICK_MS = 10;

export interface ScenarioRunOptions {
  scenario: ResolvedScenario;
  dispatcher: Dispatcher;
  /** Path prefix of the base URL ('' or '/prefix'). */
  basePath: string;
  setupData: unknown;
  metrics: EngineMetrics;
  latency: LatencyRecorder;
  /** Also records every latency here (the engine's figures over all scenarios). */
  overallLatency?: LatencyRecorder;
  rateWindow: RateWindow;
  lateStartBoundMs?: number;
  selfHealthIntervalMs?: number;
}

/** Cancels an in-flight request when the graceful stop ran out or the engine closed. */
class IterationInterruptedError extends Error {
  readonly code = 'RESILIENCE_ITERATION_INTERRUPTED';
  constructor() {
    super('iteration interrupted at the end of the graceful stop or ramp-down');
    this.name = 'IterationInterruptedError';
  }
}

/**
 * One request in flight. Implements undici's dispatch handler directly (rather than `request()`),
 * which spares a promise, an AbortController and a body stream per request on the hot path.
 */
class InFlightRequest implements Dispatcher.DispatchHandler {
  status = 0;
  /** When a ramp-down removed this request's VU: the end of its gracefulRampDown. */
  interruptAt = Number.POSITIVE_INFINITY;
  /** Response headers and body, collected only when the request has checks to run on them. */
  headers: Record<string, string | string[] | undefined> | undefined;
  chunks: Buffer[] | undefined;
  /** Set once the outcome is counted (finished, timed out or interrupted); later callbacks are ignored. */
  settled = false;
  private abortRequest: ((error?: Error) => void) | undefined;
  private cancelReason: Error | undefined;

  constructor(
    private readonly run: ScenarioRun,
    readonly spec: ResolvedRequest,
    readonly scheduledAt: number,
    readonly vu: number,
    readonly deadline: number,
  ) {}

  /** Aborts the request now, or as soon as undici connects it when it is still queued. */
  cancel(reason: Error): void {
    if (this.abortRequest !== undefined) this.abortRequest(reason);
    else this.cancelReason = reason;
  }

  // The callbacks below are undici's handler interface, which undici 7 still drives natively; its
  // newer controller interface is wrapped in two adapter objects per request by undici itself.
  onConnect(abort: (error?: Error) => void): void {
    if (this.cancelReason !== undefined) abort(this.cancelReason);
    else this.abortRequest = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[]): boolean {
    this.status = statusCode;
    if (this.spec.checks.length > 0) {
      this.chunks = [];
      this.headers = {};
      for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
        const key = String(rawHeaders[i]).toLowerCase();
        const value = String(rawHeaders[i + 1]);
        const previous = this.headers[key];
        this.headers[key] = previous === undefined ? value : Array.isArray(previous) ? [...previous, value] : [previous, value];
      }
    }
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.chunks?.push(chunk);
    return true;
  }

  onComplete(): void {
    this.run.complete(this, this.status, undefined);
  }

  /** The response as the request's checks see it (status 0 and no body after a network error). */
  checkResponse(status: number): CheckResponse {
    const body = this.chunks === undefined ? '' : Buffer.concat(this.chunks).toString('utf8');
    let parsed: { value: unknown } | undefined;
    return {
      status,
      headers: this.headers ?? {},
      body,
      json(): unknown {
        if (parsed === undefined) {
          try {
            parsed = { value: JSON.parse(body) as unknown };
          } catch {
            parsed = { value: undefined };
          }
        }
        return parsed.value;
      },
    };
  }

  onError(error: Error): void {
    this.run.complete(this, 0, error);
  }
}

export class ScenarioRun {
  private readonly scenario: ResolvedScenario;
  private readonly lateStartBoundMs: number;
  private readonly monitor: SelfHealthMonitor;
  private readonly context: IterationContext<unknown>;
  private readonly schedule: ResolvedSchedule;
  /** Due times, for the open-model executors only. */
  private readonly arrivals: ArrivalTimes | undefined;

  // Schedule.
  private startAt = 0;
  /** Open model: the next iteration index to come due. */
  private nextIndex = 0;
  /** Iterations started or dropped: the summary's `scheduled`. */
  private scheduled = 0;
  /** Iterations each VU has started (index vu-1): k6's __ITER of its next iteration. */
  private readonly iterationsByVu: number[] = [];
  private wakePending = false;
  private stopping = false;
  private stoppedSchedulingAt = 0;
  private gracefulDeadline = Number.POSITIVE_INFINITY;
  private lastSweepAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private finished = false;

  // VUs: slot vu-1 holds that VU's request in flight.
  private readonly slots: (InFlightRequest | undefined)[] = [];
  private readonly freeVus: number[] = [];
  /** undici options of requests whose path and body are static, by spec index (see dispatchOptions). */
  private readonly staticOptions: (Dispatcher.DispatchOptions | undefined)[] = [];
  private allocatedVus = 0;
  private inFlight = 0;

  // Outcomes.
  private requests = 0;
  private errors = 0;
  private readonly errorsByKind: Record<ErrorKind, number> = { refused: 0, reset: 0, timeout: 0, http: 0, other: 0 };
  private readonly errorSamples: Partial<Record<ErrorKind, string>> = {};
  private readonly statusCounts = new Map<number, number>();
  private droppedNoVu = 0;
  private droppedLate = 0;
  private interrupted = 0;
  /** Per request spec, per check: [passes, fails]. */
  private readonly checkCounts: [number, number][][];

  private resolveDone: (summary: LoadSummary) => void = () => undefined;
  private readonly done: Promise<LoadSummary>;

  constructor(private readonly options: ScenarioRunOptions) {
    this.scenario = options.scenario;
    this.schedule = options.scenario.schedule;
    this.arrivals = this.schedule.model === 'open' ? arrivalTimes(this.schedule) : undefined;
    this.checkCounts = this.scenario.requests.map((request) => request.checks.map((): [number, number] => [0, 0]));
    this.lateStartBoundMs = options.lateStartBoundMs ?? LATE_START_BOUND_MS;
    this.monitor = new SelfHealthMonitor(options.metrics.gauges, options.selfHealthIntervalMs);
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    for (let vu = this.scenario.preAllocatedVUs; vu >= 1; vu--) this.freeVus.push(vu);
    this.allocatedVus = this.scenario.preAllocatedVUs;
    for (let i = 0; i < this.allocatedVus; i++) {
      this.slots.push(undefined);
      this.iterationsByVu.push(0);
    }
    options.metrics.gauges.vusMax = this.allocatedVus;
    const random = Math.random;
    this.context = {
      iteration: 0,
      vu: 0,
      iterationInVU: 0,
      data: options.setupData,
      random,
      pick<T>(items: readonly T[]): T {
        if (items.length === 0) throw new RangeError('pick() needs at least one item');
        return items[Math.floor(random() * items.length)] as T;
      },
    };
  }

  /**
   * Starts the load and resolves with the summary once every scheduled iteration is accounted for.
   * On `signal` abort: stops scheduling, waits for in-flight iterations up to the graceful stop,
   * interrupts the rest. Never rejects. Call once.
   */
  run(signal?: AbortSignal): Promise<LoadSummary> {
    if (this.started) throw new Error('a run can be started once');
    this.started = true;
    this.startAt = performance.now();
    this.lastSweepAt = this.startAt;
    this.monitor.start();
    const onAbort = (): void => this.stopScheduling();
    if (signal?.aborted) this.stopScheduling();
    else signal?.addEventListener('abort', onAbort, { once: true });
    void this.done.then(() => signal?.removeEventListener('abort', onAbort));
    this.tick();
    return this.done;
  }

  /** Stops now: no graceful wait, every in-flight iteration interrupted. Resolves like `run`. Idempotent. */
  stopNow(): Promise<LoadSummary> {
    if (!this.started) {
      this.started = true;
      this.startAt = performance.now();
      this.monitor.start();
    }
    if (!this.finished) {
      this.stopScheduling();
      this.interruptAll();
      this.finish();
    }
    return this.done;
  }

  live(): LiveStats {
    const now = performance.now();
    return {
      elapsedMs: this.started ? (this.stopping ? this.stoppedSchedulingAt : now) - this.startAt : 0,
      totalMs: this.scenario.durationMs,
      requests: this.requests,
      ratePerSec: this.options.rateWindow.ratePerSec(now, this.requests),
      errors: this.errors,
      p95Ms: this.options.latency.percentileMs(95),
      droppedIterations: this.droppedNoVu + this.droppedLate,
      inFlight: this.inFlight,
    };
  }

  /** Counts a request's outcome exactly once; called by its handler, the timeout sweep, or start failures. */
  complete(request: InFlightRequest, status: number, error: unknown): void {
    if (request.settled) return;
    request.settled = true;
    const now = performance.now();
    const latencyMs = now - request.scheduledAt;
    let kind: ErrorKind | undefined;
    let errorCode = 0;
    if (error !== undefined) {
      status = 0;
      const errorClass = classifyNetworkError(error);
      kind = errorClass.kind;
      errorCode = errorClass.errorCode;
      this.errorSamples[kind] ??= error instanceof Error ? error.message : JSON.stringify(error);
    } else {
      errorCode = httpErrorCode(status);
      if (request.spec.isExpected[status] !== 1) {
        kind = 'http';
        this.errorSamples.http ??= `${request.spec.name} answered ${status}`;
      }
    }
    this.options.metrics.recordRequest(request.spec.index, status, errorCode, latencyMs / 1000);
    this.options.latency.recordMs(latencyMs);
    this.options.overallLatency?.recordMs(latencyMs);
    if (request.spec.checks.length > 0) this.runChecks(request, status);
    this.requests += 1;
    this.statusCounts.set(status, (this.statusCounts.get(status) ?? 0) + 1);
    if (kind !== undefined) {
      this.errors += 1;
      this.errorsByKind[kind] += 1;
    }
    this.releaseVu(request);
    if (this.stopping) {
      if (this.inFlight === 0) this.finish();
    } else if (this.arrivals === undefined) {
      this.wakeSoon();
    } else if (this.nextIndex < this.scenario.plannedIterations && this.startAt + this.arrivals.offsetMs(this.nextIndex) <= now) {
      // Open model: an iteration is already overdue and this VU is free for it. Waiting for the
      // timer's next tick (≥ 1 ms away) would leave the VU idle and drop iterations it could run.
      this.wakeSoon();
    }
  }

  /** Runs the request's checks; a check that throws counts as failed. Never affects `errors`. */
  private runChecks(request: InFlightRequest, status: number): void {
    const response = request.checkResponse(status);
    const counts = this.checkCounts[request.spec.index] ?? [];
    request.spec.checks.forEach((check, i) => {
      let passed: boolean;
      try {
        passed = check.test(response) === true;
      } catch {
        passed = false;
      }
      const pair = counts[i];
      if (pair !== undefined) pair[passed ? 0 : 1] += 1;
      this.options.metrics.recordCheck(request.spec.index, i, passed);
    });
  }

  /**
   * A VU just freed up and has work: start it right after this turn's I/O callbacks (not
   * recursively inside undici's callback), once for every completion of the turn. The open model
   * only starts what is already due, and keeps its timer: it still points at the next due time.
   */
  private wakeSoon(): void {
    if (this.wakePending || this.finished) return;
    this.wakePending = true;
    setImmediate(this.onWake);
  }

  private readonly onWake = (): void => {
    this.wakePending = false;
    if (this.finished || this.stopping) return;
    if (this.arrivals !== undefined) {
      this.startDueArrivals(this.arrivals, performance.now());
      return;
    }
    clearTimeout(this.timer);
    this.tick();
  };

  private tick(): void {
    this.timer = undefined;
    if (this.finished) return;
    const now = performance.now();
    if (!this.stopping) {
      if (this.arrivals !== undefined) this.startDueArrivals(this.arrivals, now);
      else this.driveVus(now);
    }
    if (now - this.lastSweepAt >= MAX_TICK_MS) {
      this.lastSweepAt = now;
      this.sweepTimeouts(now);
    }
    this.options.rateWindow.sample(now, this.requests);
    if (this.finished) return;
    if (this.stopping) {
      if (this.inFlight === 0) return this.finish();
      if (now >= this.gracefulDeadline) {
        this.interruptAll();
        return this.finish();
      }
    }
    this.scheduleTick(now);
  }

  /** Open model: starts (or drops) every iteration that has come due, in schedule order. */
  private startDueArrivals(arrivals: ArrivalTimes, now: number): void {
    const { plannedIterations, durationMs } = this.scenario;
    // Bounded by plannedIterations, and by `now` within one tick.
    while (this.nextIndex < plannedIterations) {
      const dueAt = this.startAt + arrivals.offsetMs(this.nextIndex);
      if (dueAt > now) break;
      this.startOrDrop(this.nextIndex, dueAt, now);
      this.nextIndex += 1;
    }
    if (this.nextIndex >= plannedIterations && now - this.startAt >= durationMs) this.stopScheduling(this.startAt + durationMs);
  }

  /**
   * Closed model: every active VU without an iteration in flight starts its next one (within its
   * budget); VUs above the ramp's target finish theirs within gracefulRampDown.
   */
  private driveVus(now: number): void {
    const schedule = this.schedule;
    if (schedule.model !== 'closed') return;
    const elapsed = now - this.startAt;
    if (elapsed >= this.scenario.durationMs) return this.stopScheduling(this.startAt + this.scenario.durationMs);
    const active = Math.min(this.scenario.maxVUs, activeVusAt(schedule, elapsed));
    const rampDownMs = schedule.executor === 'ramping-vus' ? schedule.gracefulRampDownMs : 0;
    for (let vu = 1; vu <= this.scenario.maxVUs; vu++) {
      const request = this.slots[vu - 1];
      if (vu > active) {
        if (request !== undefined && request.interruptAt === Number.POSITIVE_INFINITY) request.interruptAt = now + rampDownMs;
        continue;
      }
      if (request !== undefined) {
        request.interruptAt = Number.POSITIVE_INFINITY;
        continue;
      }
      if (!this.hasBudget(vu)) continue;
      // Take this VU out of the free list: closed-model VUs are addressed by number.
      const free = this.freeVus.indexOf(vu);
      if (free >= 0) this.freeVus.splice(free, 1);
      this.startIteration(this.scheduled, vu, now);
    }
    if (this.budgetExhausted()) this.stopScheduling(now);
  }

  private hasBudget(vu: number): boolean {
    const schedule = this.schedule;
    if (schedule.executor === 'per-vu-iterations') return (this.iterationsByVu[vu - 1] ?? 0) < schedule.iterations;
    if (schedule.executor === 'shared-iterations') return this.scheduled < schedule.iterations;
    return true;
  }

  private budgetExhausted(): boolean {
    const schedule = this.schedule;
    if (schedule.executor === 'per-vu-iterations' || schedule.executor === 'shared-iterations') return this.scheduled >= this.scenario.plannedIterations;
    return false;
  }

  private scheduleTick(now: number): void {
    clearTimeout(this.timer);
    let wakeAt = now + MAX_TICK_MS;
    if (!this.stopping) {
      const nextDueAt =
        this.arrivals !== undefined && this.nextIndex < this.scenario.plannedIterations
          ? this.startAt + this.arrivals.offsetMs(this.nextIndex)
          : this.startAt + this.scenario.durationMs;
      wakeAt = Math.min(wakeAt, nextDueAt);
    } else {
      wakeAt = Math.min(wakeAt, this.gracefulDeadline);
    }
    // Round up: waking before the due time would only cost an empty tick.
    this.timer = setTimeout(() => this.tick(), Math.max(1, Math.ceil(wakeAt - performance.now())));
  }

  private startOrDrop(iteration: number, dueAt: number, now: number): void {
    if (now - dueAt > this.lateStartBoundMs) {
      this.scheduled += 1;
      this.droppedLate += 1;
      this.options.metrics.recordDropped();
      return;
    }
    const vu = this.acquireVu();
    if (vu === 0) {
      this.scheduled += 1;
      this.droppedNoVu += 1;
      this.options.metrics.recordDropped();
      return;
    }
    this.startIteration(iteration, vu, dueAt);
  }

  /** Sends one iteration's request on `vu`, whose slot is free; latency counts from `scheduledAt`. */
  private startIteration(iteration: number, vu: number, scheduledAt: number): void {
    this.scheduled += 1;
    const iterationInVU = this.iterationsByVu[vu - 1] ?? 0;
    this.iterationsByVu[vu - 1] = iterationInVU + 1;
    const spec = this.pickRequest();
    const request = new InFlightRequest(this, spec, scheduledAt, vu, performance.now() + spec.timeoutMs);
    this.slots[vu - 1] = request;
    this.inFlight += 1;
    this.options.metrics.gauges.vus = this.inFlight;
    let path: string;
    let body: string | undefined;
    try {
      this.context.iteration = iteration;
      this.context.vu = vu;
      this.context.iterationInVU = iterationInVU;
      path = typeof spec.path === 'string' ? spec.path : spec.path(this.context);
      body = spec.body === undefined || typeof spec.body === 'string' ? spec.body : JSON.stringify(spec.body(this.context));
    } catch (error) {
      // A bug in the scenario's path/body function: counted as a failed request (kind `other`),
      // so the run still accounts for the iteration and the summary shows the message.
      this.complete(request, 0, new Error(`${spec.name}: building the request failed: ${(error as Error).message}`));
      return;
    }
    try {
      this.options.dispatcher.dispatch(this.dispatchOptions(spec, path, body), request);
    } catch (error) {
      this.complete(request, 0, error);
    }
  }

  /**
   * undici's options for one request. A request with a static path and body gets the same object
   * every time (undici only reads it), sparing an allocation and a string concatenation per request.
   * undici's own header and body timers are off (0): the sweep enforces timeoutMs from the send,
   * and undici would otherwise arm and refresh two timers per request.
   */
  private dispatchOptions(spec: ResolvedRequest, path: string, body: string | undefined): Dispatcher.DispatchOptions {
    const cacheable = typeof spec.path === 'string' && typeof spec.body !== 'function';
    if (cacheable) {
      const cached = this.staticOptions[spec.index];
      if (cached !== undefined) return cached;
    }
    const options: Dispatcher.DispatchOptions = {
      path: this.options.basePath + path,
      method: spec.method,
      headers: spec.headers,
      body,
      headersTimeout: 0,
      bodyTimeout: 0,
    };
    if (cacheable) this.staticOptions[spec.index] = options;
    return options;
  }

  private pickRequest(): ResolvedRequest {
    const { requests, cumulativeWeights, totalWeight } = this.scenario;
    if (requests.length > 1) {
      const r = Math.random() * totalWeight;
      for (let i = 0; i < requests.length; i++) if (r < (cumulativeWeights[i] ?? 0)) return requests[i] as ResolvedRequest;
    }
    return requests[requests.length - 1] as ResolvedRequest;
  }

  /** A free VU (1-based), allocating up to maxVUs; 0 when all are busy. */
  private acquireVu(): number {
    const vu = this.freeVus.pop();
    if (vu !== undefined) return vu;
    if (this.allocatedVus >= this.scenario.maxVUs) return 0;
    this.allocatedVus += 1;
    this.slots.push(undefined);
    this.iterationsByVu.push(0);
    this.options.metrics.gauges.vusMax = this.allocatedVus;
    return this.allocatedVus;
  }

  private releaseVu(request: InFlightRequest): void {
    if (this.slots[request.vu - 1] !== request) return;
    this.slots[request.vu - 1] = undefined;
    this.freeVus.push(request.vu);
    this.inFlight -= 1;
    this.options.metrics.gauges.vus = this.inFlight;
  }

  private sweepTimeouts(now: number): void {
    if (this.inFlight === 0) return;
    for (const request of this.slots) {
      if (request === undefined || request.settled) continue;
      if (now >= request.interruptAt) {
        this.interrupt(request);
        continue;
      }
      if (now < request.deadline) continue;
      const error = new RequestTimeoutError(request.spec.timeoutMs);
      // Count first (latency at the deadline), then cancel: undici's onError is then ignored.
      this.complete(request, 0, error);
      request.cancel(error);
    }
  }

  /** Stops starting iterations; in-flight ones get until the graceful-stop deadline. */
  private stopScheduling(at = performance.now()): void {
    if (this.stopping) return;
    this.stopping = true;
    this.stoppedSchedulingAt = Math.min(at, performance.now());
    this.gracefulDeadline = this.stoppedSchedulingAt + this.scenario.gracefulStopMs;
    // Wake the loop now rather than at its next planned tick, so an abort takes effect at once.
    if (this.timer !== undefined && !this.finished) {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.tick(), 0);
    }
  }

  private interruptAll(): void {
    for (const request of this.slots) {
      if (request !== undefined && !request.settled) this.interrupt(request);
    }
  }

  /** Counts an in-flight iteration as interrupted (not as a request) and cancels it. */
  private interrupt(request: InFlightRequest): void {
    request.settled = true;
    this.interrupted += 1;
    this.releaseVu(request);
    request.cancel(new IterationInterruptedError());
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.resolveDone(this.summary());
  }

  private checkSummary(): CheckCounts[] {
    return this.scenario.requests.flatMap((request) =>
      request.checks.map((check, i) => {
        const [passes, fails] = this.checkCounts[request.index]?.[i] ?? [0, 0];
        return { scenario: this.scenario.name, request: request.name, check: check.name, passes, fails };
      }),
    );
  }

  private summary(): LoadSummary {
    const readings = this.monitor.stop();
    const scheduled = this.scheduled;
    const dropped = this.droppedNoVu + this.droppedLate;
    const durationMs = Math.max(0, (this.stopping ? this.stoppedSchedulingAt : performance.now()) - this.startAt);
    const verdict = judgeOverload({
      readings,
      scheduled,
      droppedNoVu: this.droppedNoVu,
      droppedLate: this.droppedLate,
      maxVUs: this.scenario.maxVUs,
      lateStartBoundMs: this.lateStartBoundMs,
    });
    return {
      scenario: this.scenario.name,
      executor: this.scenario.executor,
      targetRate: this.scenario.ratePerSec,
      durationMs,
      scheduled,
      requests: this.requests,
      errors: this.errors,
      errorsByKind: { ...this.errorsByKind },
      errorSamples: { ...this.errorSamples },
      statusCounts: Object.fromEntries([...this.statusCounts].sort(([a], [b]) => a - b).map(([status, count]) => [String(status), count])),
      droppedIterations: dropped,
      interruptedIterations: this.interrupted,
      achievedRatePerSec: durationMs > 0 ? (this.requests * 1000) / durationMs : 0,
      latencyMs: this.options.latency.percentiles(),
      checks: this.checkSummary(),
      selfHealth: {
        maxEventLoopLagMs: readings.maxEventLoopLagMs,
        meanCpuUtilization: readings.meanCpuUtilization,
        overloaded: verdict.overloaded,
        ...(verdict.reason !== undefined ? { reason: verdict.reason } : {}),
      },
    };
  }
}
