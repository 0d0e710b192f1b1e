import { z } from 'zod';
import { isDuration } from '../util/duration.ts';
import { checkExperiment, EXPERIMENT_NAMES, type ExperimentName } from '../../chaos/litmus/experiments.ts';
import type { ConfigIssue } from './errors.ts';

/**
 * The shape of `resilience.config.ts` as a person writes it. Defaults are filled in here, so the
 * parsed value is complete; `resolve.ts` then turns durations into milliseconds and paths into
 * absolute paths, giving the `ResolvedConfig` the rest of the code sees.
 */

const duration = z.string().refine(isDuration, { message: 'expected a duration like "500ms", "20s" or "1m30s"' });
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

const runtimePreference = z.enum(['process', 'container', 'auto']);
const runtimeSchema = z
  .object({ postgres: runtimePreference.default('auto'), redis: runtimePreference.default('auto'), prometheus: runtimePreference.default('auto') })
  .strict();
const imageName = z.string().regex(/^[a-z0-9][a-z0-9._/:@-]*$/, { message: 'expected a local image name like "postgres:15"' });
const imagesSchema = z.object({ postgres: imageName.optional(), redis: imageName.optional(), prometheus: imageName.optional() }).strict();

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
    /**
     * Per service: its binary on PATH (`process`), a Docker container (`container`), or `auto`
     * (the binary when present, else a container when Docker answers). See docs/containers.md.
     */
    runtime: runtimeSchema.default(runtimeSchema.parse({})),
    /** Images for the container runtime; each must already be present locally (nothing is pulled). */
    images: imagesSchema.default({}),
  })
  .strict();

/**
 * hasteCRM on a kind cluster (cluster/targets/kind/kind-target.ts): the cluster is created (or
 * reused), the addons installed, the API image built and loaded, the kind overlay applied with
 * the run's label; chaos runs through Litmus ChaosEngines. Needs Docker and kind (CI runners).
 */
const kindTargetSchema = z
  .object({
    type: z.literal('kind'),
    /** kind cluster name; the kube context is `kind-<cluster>`. */
    cluster: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$/, { message: 'expected a kind cluster name (lowercase letters, digits, "-")' }).default('hastecrm'),
    /** Use an existing cluster of that name and keep it after the run (only the run's objects are deleted). */
    reuse: z.boolean().default(false),
    workers: z.number().int().min(0).max(5).default(2),
    /** The API pods' namespace: where ChaosEngines, the ChaosExperiments and litmus-admin go. */
    namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, { message: 'expected a namespace name (DNS label)' }).default('hastecrm-production'),
    /**
     * Where the ChaosEngines, their runner and helper pods and litmus-admin live. The app namespace
     * enforces the `restricted` Pod Security Standard, which rejects Litmus's privileged helpers, so
     * the run creates this namespace as `privileged` and grants litmus-admin access to the app's pods.
     */
    chaosNamespace: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, { message: 'expected a namespace name (DNS label)' }).default('hastecrm-chaos'),
    /** API replicas the kind overlay runs (what PODS_AFFECTED_PERC is a percentage of, as planned). */
    replicas: z.number().int().min(1).max(20).default(2),
    /** Optional addons besides the required ones (ingress-nginx, prometheus, metrics-server, litmus, k6-operator). */
    addons: z.array(z.enum(['istio', 'flagger', 'argo-rollouts', 'gatekeeper'])).default([]),
    /** Host ports of kind's port mappings (127.0.0.1). */
    ingressPort: z.number().int().min(1).max(65_535).default(8080),
    prometheusPort: z.number().int().min(1).max(65_535).default(9090),
    /** The Host the Ingress routes to the API (cluster/manifests/base/ingress.yaml). */
    apiHost: z.string().min(1).default('api.hastecrm.com'),
    prometheus: z
      .object({ scrapeInterval: duration.default('5s') })
      .strict()
      .default({ scrapeInterval: '5s' }),
    /** Cluster up, addons and workloads ready: image pulls on a fresh runner take minutes. */
    readyTimeout: duration.default('10m'),
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

/**
 * One chaos entry: either an experiment written here (Litmus's name and env tunables, checked
 * against the experiment table in chaos/litmus/experiments.ts when the config is resolved), or an
 * existing Litmus ChaosEngine imported from a YAML file, whose experiments run one after another as
 * the chaos-operator would run them.
 */
const chaosEntrySchema = z
  .object({
    experiment: z.enum(EXPERIMENT_NAMES as [ExperimentName, ...ExperimentName[]]).optional(),
    /** Path of a ChaosEngine YAML, relative to the config file (e.g. the seed's hastecrm-chaos). */
    import: z.string().min(1).optional(),
    name: z.string().regex(/^[a-z0-9-]+$/, { message: 'expected lowercase letters, digits and dashes' }).optional(),
    /** Offset from the start of load. Entries may overlap. */
    startAfter: duration,
    /** Which replicas/pods: a label selector. Default: the API (`app=hastecrm-api`); an import defaults to its appinfo.applabel. */
    target: labelSelector.optional(),
    /** Litmus env tunables, by Litmus's names: TOTAL_CHAOS_DURATION, CHAOS_INTERVAL, PODS_AFFECTED_PERC, CPU_CORES … */
    env: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
    /** For an import: pause between its experiments (e.g. to see recovery in between). */
    gap: duration.default('0s'),
  })
  .strict()
  .superRefine((entry, ctx) => {
    if ((entry.experiment === undefined) === (entry.import === undefined)) {
      ctx.addIssue({ code: 'custom', path: ['experiment'], message: 'give exactly one of "experiment" (e.g. "pod-delete") or "import" (a ChaosEngine YAML file)' });
      return;
    }
    // The tunables are checked here, not later, so their problems are listed with every other
    // invalid field of the config at once.
    if (entry.experiment === undefined) return;
    const issues: ConfigIssue[] = [];
    checkExperiment(entry.experiment, {}, entry.env, '', issues);
    for (const issue of issues) ctx.addIssue({ code: 'custom', path: issue.path.replace(/^\./, '').split('.'), message: issue.expected });
  });

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
    target: z.discriminatedUnion('type', [localTargetSchema, kindTargetSchema]),
    load: loadSchema,
    chaos: z.array(chaosEntrySchema).default([]),
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
export type ParsedChaosEntry = z.output<typeof chaosEntrySchema>;
