import { z } from 'zod';
import { isDuration } from '../util/duration.ts';

/**
 * The shape of `resilience.config.ts` as a person writes it. Defaults are filled in here, so the
 * parsed value is complete; `resolve.ts` then turns durations into milliseconds and paths into
 * absolute paths, giving the `ResolvedConfig` the rest of the code sees.
 */

const duration = z.string().refine(isDuration, { message: 'expected a duration like "500ms", "20s" or "1m30s"' });
/** Litmus writes its tunables as strings of seconds ('60'); numbers are accepted too. */
const numberText = z.string().regex(/^\d+$/, { message: 'expected whole seconds as a number or a string of digits, e.g. "60"' }).transform(Number);
const litmusSeconds = z.union([z.number(), numberText]).pipe(z.number().int().min(0));
const litmusPercent = z.union([z.number(), numberText]).pipe(z.number().int().min(0).max(100));
const litmusBool = z.union([z.boolean(), z.enum(['true', 'false'])]).transform((v) => v === true || v === 'true');
const labelSelector = z.string().regex(/^[A-Za-z0-9_./-]+=[A-Za-z0-9_.-]+(,[A-Za-z0-9_./-]+=[A-Za-z0-9_.-]+)*$/, {
  message: 'expected a label selector like "app=hastecrm-api"',
});

const ingressSchema = z
  .object({
    /** The seed's VirtualService: timeout 30s, retries.attempts 3, retries.perTryTimeout 10s. */
    timeout: duration.default('30s'),
    attempts: z.number().int().min(0).max(10).default(3),
    perTryTimeout: duration.default('10s'),
  })
  .strict();

const apiSchema = z
  .object({
    /** Added to every /api request by each replica (ARTIFICIAL_LATENCY_MS): makes a latency SLO fail on purpose. */
    latency: duration.default('0ms'),
    latencyJitter: duration.default('0ms'),
    pgPoolSize: z.number().int().min(1).max(100).default(10),
    /** Extra environment for the replicas. */
    env: z.record(z.string(), z.string()).default({}),
  })
  .strict();

const localTargetSchema = z
  .object({
    type: z.literal('local'),
    replicas: z.number().int().min(1).max(20).default(3),
    api: apiSchema.default(apiSchema.parse({})),
    ingress: ingressSchema.default(ingressSchema.parse({})),
    prometheus: z
      .object({ scrapeInterval: duration.default('1s') })
      .strict()
      .default({ scrapeInterval: '1s' }),
    /** How long each service may take to become ready before the run stops with exit 4. */
    readyTimeout: duration.default('30s'),
  })
  .strict();

const loadSchema = z
  .object({
    /** Path of the scenario file, relative to the config file. */
    scenario: z.string().min(1),
    /** Overrides of the scenario's own rate (iterations per second) and duration. */
    rate: z.number().positive().max(100_000).optional(),
    duration: duration.optional(),
  })
  .strict();

const podDeleteSchema = z
  .object({
    experiment: z.literal('pod-delete'),
    name: z.string().regex(/^[a-z0-9-]+$/, { message: 'expected lowercase letters, digits and dashes' }).optional(),
    /** Offset from the start of load. */
    startAfter: duration,
    target: labelSelector.default('app=hastecrm-api'),
    env: z
      .object({
        TOTAL_CHAOS_DURATION: litmusSeconds.default(15),
        CHAOS_INTERVAL: litmusSeconds.default(5),
        PODS_AFFECTED_PERC: litmusPercent.default(0),
        FORCE: litmusBool.default(false),
        SEQUENCE: z.enum(['serial', 'parallel']).default('parallel'),
      })
      .strict()
      .default({ TOTAL_CHAOS_DURATION: 15, CHAOS_INTERVAL: 5, PODS_AFFECTED_PERC: 0, FORCE: false, SEQUENCE: 'parallel' }),
  })
  .strict();

const experimentSchema = z.discriminatedUnion('experiment', [podDeleteSchema]);

const phaseKind = z.enum(['baseline', 'experiment', 'recovery', 'overall']);
const sloBase = {
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { message: 'expected kebab-case, e.g. "api-success-ratio"' }),
  description: z.string().default(''),
  phases: z.array(phaseKind).min(1).readonly().default(['baseline', 'experiment', 'recovery', 'overall']),
  minSamples: z.number().int().min(1).default(20),
  severity: z.enum(['warning', 'error', 'critical']).default('error'),
  side: z.enum(['client', 'server']).default('client'),
};
const sloSchema = z.discriminatedUnion('kind', [
  z.object({ ...sloBase, kind: z.literal('ratio'), good: z.string().min(1), total: z.string().min(1), objective: z.number().gt(0).max(1) }).strict(),
  z
    .object({
      ...sloBase,
      kind: z.literal('latency'),
      histogram: z.string().regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, { message: 'expected a metric name without _bucket' }),
      matchers: z.string().optional(),
      quantile: z.number().gt(0).lt(1),
      thresholdMs: z.number().positive(),
    })
    .strict(),
  z
    .object({
      ...sloBase,
      kind: z.literal('query'),
      expr: z.string().min(1),
      op: z.enum(['<', '<=', '>', '>=']),
      bound: z.number(),
      samples: z.string().min(1),
      unit: z.string().optional(),
    })
    .strict(),
  z
    .object({
      ...sloBase,
      // An alert SLO's samples are rule evaluations: one is enough to make "nothing fired" evidence.
      minSamples: z.number().int().min(1).default(1),
      // Alerts are computed from the system's own metrics.
      side: z.enum(['client', 'server']).default('server'),
      kind: z.literal('alert'),
      alertSeverity: z.string().min(1),
      alertnames: z.array(z.string().min(1)).min(1).readonly().optional(),
    })
    .strict(),
]);

const suiteSchema = z
  .object({
    description: z.string().default(''),
    target: z.discriminatedUnion('type', [localTargetSchema]),
    load: loadSchema,
    chaos: z.array(experimentSchema).default([]),
    slos: z.array(sloSchema).min(1, { message: 'a suite needs at least one SLO, or nothing could fail it' }),
    /**
     * Replay the release analysis over the run: "would Flagger have promoted this?". Paths are
     * relative to the config file. Report-only unless `gate` is true: then a rollback fails the
     * run and a replay that cannot decide makes it inconclusive.
     */
    canary: z
      .object({
        flagger: z.string().min(1).optional(),
        argo: z.object({ template: z.string().min(1), args: z.record(z.string(), z.string()).default({}) }).strict().optional(),
        gate: z.boolean().default(false),
      })
      .strict()
      .optional(),
    /** After the load ends, how long to wait for Prometheus's last scrape before judging. */
    settle: duration.default('3s'),
    /** The whole run's deadline; past it the run is stopped, cleaned up and reported inconclusive. */
    timeout: duration.default('15m'),
  })
  .strict();

export const userConfigSchema = z
  .object({
    /** Where run folders are written (`<reportsDir>/<run-id>/`). */
    reportsDir: z.string().default('reports/runs'),
    /** Every run is indexed here for `resilience gate` (CI keeps it as an artifact or in a branch). */
    historyDir: z.string().default('reports/history'),
    /** Where the ledger and other state live; leftovers recorded here are reverted at the next run. */
    stateDir: z.string().default('.resilience'),
    suites: z.record(z.string().regex(/^[a-z0-9][a-z0-9-]*$/, { message: 'suite names are kebab-case' }), suiteSchema).refine((s) => Object.keys(s).length > 0, {
      message: 'define at least one suite',
    }),
  })
  .strict();

export type UserConfig = z.input<typeof userConfigSchema>;
export type ParsedConfig = z.output<typeof userConfigSchema>;
export type ParsedSuite = z.output<typeof suiteSchema>;
export type ParsedExperiment = z.output<typeof experimentSchema>;
