import { ConfigError, describeValue, type ConfigIssue } from '../../scripts/config/errors.ts';

/**
 * Typed Litmus experiment definitions: Litmus's experiment names and env tunables, with defaults
 * taken from the ChaosExperiment charts / litmus-go `environment.go` (where the two disagree the
 * chart wins, since that is what a ChaosEngine without the env runs). Values are numbers/booleans
 * here and become strings only when rendered into a ChaosEngine.
 */

type TunableSpec =
  | { kind: 'seconds'; default: number; min: number; max: number }
  | { kind: 'int'; default: number; min: number; max: number; unit: string }
  | { kind: 'enum'; default: string; values: readonly string[] }
  | { kind: 'text'; default: string; pattern?: RegExp; hint?: string }
  | { kind: 'flag'; default: boolean };

const seconds = (def: number, min = 0) => ({ kind: 'seconds', default: def, min, max: 86_400 }) as const;
const int = (def: number, min: number, max: number, unit: string) => ({ kind: 'int', default: def, min, max, unit }) as const;
const percent = (def: number) => int(def, 0, 100, '%');
const oneOf = <const T extends readonly string[]>(values: T, def: T[number]) => ({ kind: 'enum', default: def, values }) as const;
const text = (def = '', pattern?: RegExp, hint?: string) => ({ kind: 'text', default: def, pattern, hint }) as const;
const flag = (def: boolean) => ({ kind: 'flag', default: def }) as const;

/** Tunables every pod-level Litmus experiment reads. */
const podCommon = {
  RAMP_TIME: seconds(0),
  PODS_AFFECTED_PERC: percent(0),
  SEQUENCE: oneOf(['parallel', 'serial'] as const, 'parallel'),
  TARGET_CONTAINER: text(),
} as const;

/** Tunables of experiments whose helper talks to the container runtime on the node. */
const runtime = {
  CONTAINER_RUNTIME: oneOf(['containerd', 'docker', 'crio'] as const, 'containerd'),
  SOCKET_PATH: text('/run/containerd/containerd.sock', /^\//, 'an absolute path'),
} as const;

const network = {
  NETWORK_INTERFACE: text('eth0', /^[a-zA-Z0-9_.-]{1,15}$/, 'an interface name, e.g. eth0'),
  DESTINATION_IPS: text(),
  DESTINATION_HOSTS: text(),
} as const;

/**
 * Every experiment and its tunables. CHAOS_INTERVAL exists only where Litmus reads it (pod-delete,
 * container-kill); the stress and network experiments inject once for TOTAL_CHAOS_DURATION.
 */
export const EXPERIMENTS = {
  'pod-delete': {
    litmus: true,
    local: true,
    helper: 'none',
    tunables: { TOTAL_CHAOS_DURATION: seconds(15, 1), CHAOS_INTERVAL: seconds(5, 1), FORCE: flag(false), ...podCommon },
  },
  'container-kill': {
    litmus: true,
    local: true,
    helper: 'cri-socket',
    tunables: {
      TOTAL_CHAOS_DURATION: seconds(20, 1),
      CHAOS_INTERVAL: seconds(10, 1),
      SIGNAL: text('SIGKILL', /^SIG[A-Z0-9]+$/, 'a signal name, e.g. SIGKILL'),
      ...podCommon,
      ...runtime,
    },
  },
  'pod-cpu-hog': {
    litmus: true,
    local: true,
    helper: 'privileged-stress',
    tunables: { TOTAL_CHAOS_DURATION: seconds(60, 1), CPU_CORES: int(1, 0, 256, 'cores'), CPU_LOAD: percent(100), ...podCommon, ...runtime },
  },
  'pod-memory-hog': {
    litmus: true,
    local: true,
    helper: 'privileged-stress',
    tunables: {
      TOTAL_CHAOS_DURATION: seconds(60, 1),
      MEMORY_CONSUMPTION: int(500, 1, 1_048_576, 'MiB'),
      NUMBER_OF_WORKERS: int(1, 1, 64, 'workers'),
      ...podCommon,
      ...runtime,
    },
  },
  'pod-network-latency': {
    litmus: true,
    local: true,
    helper: 'privileged-network',
    tunables: { TOTAL_CHAOS_DURATION: seconds(60, 1), NETWORK_LATENCY: int(2000, 0, 3_600_000, 'ms'), JITTER: int(0, 0, 3_600_000, 'ms'), ...network, ...podCommon, ...runtime },
  },
  'pod-network-loss': {
    litmus: true,
    local: true,
    helper: 'privileged-network',
    tunables: { TOTAL_CHAOS_DURATION: seconds(60, 1), NETWORK_PACKET_LOSS_PERCENTAGE: percent(100), ...network, ...podCommon, ...runtime },
  },
  'pod-network-partition': {
    litmus: true,
    local: true,
    // Litmus implements it with a NetworkPolicy: no helper pod at all.
    helper: 'none',
    tunables: {
      TOTAL_CHAOS_DURATION: seconds(30, 1),
      RAMP_TIME: seconds(0),
      POLICY_TYPES: oneOf(['all', 'ingress', 'egress'] as const, 'all'),
      DESTINATION_IPS: text(),
      DESTINATION_HOSTS: text(),
      POD_SELECTOR: text(),
      NAMESPACE_SELECTOR: text(),
      PORTS: text(),
    },
  },
  'node-drain': {
    litmus: true,
    // A node cannot be drained on the local target: Kubernetes only.
    local: false,
    helper: 'none',
    tunables: { TOTAL_CHAOS_DURATION: seconds(60, 1), RAMP_TIME: seconds(0), TARGET_NODE: text(), NODE_LABEL: text() },
  },
  'pod-pause': {
    // The harness's own freeze experiment (cgroup freezer locally). Litmus has no equivalent
    // ChaosExperiment, so it cannot be rendered into a ChaosEngine.
    litmus: false,
    local: true,
    helper: 'none',
    tunables: { TOTAL_CHAOS_DURATION: seconds(30, 1), CHAOS_INTERVAL: seconds(30, 1), ...podCommon },
  },
} as const satisfies Record<string, { litmus: boolean; local: boolean; helper: HelperKind; tunables: Record<string, TunableSpec> }>;

/**
 * What a Litmus experiment's helper pod needs on the node, which decides whether Pod Security and
 * admission policies admit it: `privileged-stress` (stress-chaos: privileged, hostPID, SYS_ADMIN,
 * hostPath CRI socket), `privileged-network` (network-chaos: hostPID, NET_ADMIN + SYS_ADMIN,
 * hostPath CRI socket, nsenter as root), `cri-socket` (container-kill: not privileged on
 * containerd/docker, but a hostPath CRI socket used as root), `none` (no helper pod).
 */
export type HelperKind = 'none' | 'cri-socket' | 'privileged-stress' | 'privileged-network';

export type ExperimentName = keyof typeof EXPERIMENTS;
export const EXPERIMENT_NAMES = Object.keys(EXPERIMENTS) as ExperimentName[];

type ValueOf<S> = S extends { kind: 'enum'; values: readonly (infer V)[] } ? V : S extends { kind: 'text' } ? string : S extends { kind: 'flag' } ? boolean : number;

/** The complete, validated tunables of experiment E. */
export type TunablesOf<E extends ExperimentName> = { -readonly [K in keyof (typeof EXPERIMENTS)[E]['tunables']]: ValueOf<(typeof EXPERIMENTS)[E]['tunables'][K]> };

/** One experiment: its Litmus name, its target (label selector as pairs) and every tunable. */
export type ExperimentDefinition = {
  [E in ExperimentName]: { experiment: E; target: Record<string, string>; env: TunablesOf<E> };
}[ExperimentName];

/** Tunables as a user or a ChaosEngine gives them: any subset, as values or as Litmus's strings. */
export type RawTunables = Record<string, string | number | boolean | undefined>;

export function isExperimentName(name: string): name is ExperimentName {
  return Object.hasOwn(EXPERIMENTS, name);
}

/**
 * Builds a complete definition, filling Litmus's defaults. Throws ConfigError naming every invalid
 * field (`<where>.env.CPU_LOAD: got "150"; expected a percentage 0–100`).
 */
export function defineExperiment(experiment: string, target: Record<string, string>, env: RawTunables = {}, where = experiment, source = 'experiment definition'): ExperimentDefinition {
  const issues: ConfigIssue[] = [];
  const definition = checkExperiment(experiment, target, env, where, issues);
  if (!definition || issues.length > 0) throw new ConfigError(source, issues);
  return definition;
}

/** As defineExperiment, but appends its issues to `issues` (for callers reporting all at once). */
export function checkExperiment(experiment: string, target: Record<string, string>, env: RawTunables, where: string, issues: ConfigIssue[]): ExperimentDefinition | undefined {
  if (!isExperimentName(experiment)) {
    issues.push({ path: `${where}.name`, given: describeValue(experiment), expected: `expected one of ${EXPERIMENT_NAMES.join(', ')}` });
    return undefined;
  }
  const specs: Record<string, TunableSpec> = EXPERIMENTS[experiment].tunables;
  const out: Record<string, string | number | boolean> = {};
  for (const key of Object.keys(env)) {
    if (!Object.hasOwn(specs, key)) {
      issues.push({ path: `${where}.env.${key}`, given: describeValue(env[key]), expected: `${experiment} has no tunable ${key}; it takes ${Object.keys(specs).join(', ')}` });
    }
  }
  for (const [key, spec] of Object.entries(specs)) {
    const raw = env[key];
    // Litmus treats an empty value as unset, so "" means "the default" here as well.
    if (raw === undefined || raw === '') {
      out[key] = spec.default;
      continue;
    }
    const parsed = parseTunable(spec, raw);
    if (typeof parsed === 'object') issues.push({ path: `${where}.env.${key}`, given: describeValue(raw), expected: parsed.expected });
    else out[key] = parsed;
  }
  const before = issues.length;
  if (experiment === 'node-drain' && !out.TARGET_NODE && !out.NODE_LABEL) {
    issues.push({ path: `${where}.env.TARGET_NODE`, given: 'missing', expected: 'node-drain needs TARGET_NODE or NODE_LABEL' });
  }
  if (typeof out.CHAOS_INTERVAL === 'number' && typeof out.TOTAL_CHAOS_DURATION === 'number' && out.CHAOS_INTERVAL > out.TOTAL_CHAOS_DURATION) {
    issues.push({ path: `${where}.env.CHAOS_INTERVAL`, given: describeValue(out.CHAOS_INTERVAL), expected: `at most TOTAL_CHAOS_DURATION (${out.TOTAL_CHAOS_DURATION} s)` });
  }
  if (issues.length > before) return undefined;
  // The table above guarantees `out` has exactly TunablesOf<experiment>'s keys and value types.
  return { experiment, target: { ...target }, env: out } as ExperimentDefinition;
}

function parseTunable(spec: TunableSpec, raw: string | number | boolean): string | number | boolean | { expected: string } {
  switch (spec.kind) {
    case 'seconds':
    case 'int': {
      const what = spec.kind === 'seconds' ? `whole seconds ${spec.min}–${spec.max}` : spec.unit === '%' ? `a percentage ${spec.min}–${spec.max}` : `a whole number of ${spec.unit} ${spec.min}–${spec.max}`;
      const value = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
      if (!Number.isInteger(value) || value < spec.min || value > spec.max) return { expected: `expected ${what}` };
      return value;
    }
    case 'enum':
      if (typeof raw !== 'string' || !spec.values.includes(raw)) return { expected: `expected one of ${spec.values.join(', ')}` };
      return raw;
    case 'flag':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === 'false') return raw === 'true';
      return { expected: 'expected true or false' };
    case 'text':
      if (typeof raw !== 'string') return { expected: 'expected a string' };
      if (spec.pattern && !spec.pattern.test(raw)) return { expected: `expected ${spec.hint ?? spec.pattern.source}` };
      return raw;
  }
}

/** Litmus's env form of a definition: every non-empty tunable as a string, in table order. */
export function tunablesAsEnv(definition: ExperimentDefinition): { name: string; value: string }[] {
  return Object.entries(definition.env as Record<string, string | number | boolean>)
    .filter(([, value]) => value !== '')
    .map(([name, value]) => ({ name, value: String(value) }));
}

/** Parses an equality label selector ("app=hastecrm-api,tier=api"); set-based selectors are refused. */
export function parseLabelSelector(selector: string): { ok: true; labels: Record<string, string> } | { ok: false; expected: string } {
  const out: Record<string, string> = {};
  const parts = selector.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (parts.length === 0) return { ok: false, expected: 'expected key=value[,key=value], e.g. "app=hastecrm-api"' };
  for (const part of parts) {
    const match = /^([A-Za-z0-9./_-]+)\s*==?\s*([A-Za-z0-9._-]*)$/.exec(part);
    if (!match?.[1]) return { ok: false, expected: `expected key=value pairs; "${part}" is not one (set-based selectors are not supported)` };
    out[match[1]] = match[2] ?? '';
  }
  return { ok: true, labels: out };
}

/**
 * Litmus's count of affected pods for `total` candidates: floor(PODS_AFFECTED_PERC × total / 100),
 * at least one (Litmus reads 0 as "one"), none when there are none. Used by the local injectors, the
 * local plan and the plan on a cluster alike.
 */
export function affectedPodCount(podsAffectedPerc: number, total: number): number {
  if (total === 0) return 0;
  return Math.max(1, Math.floor((Math.min(podsAffectedPerc, 100) * total) / 100));
}

/** Whether `labels` carry every key=value of an equality selector (an empty selector matches all). */
export function matchesLabelSelector(labels: Readonly<Record<string, string>>, selector: Readonly<Record<string, string>>): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

export function formatLabelSelector(selector: Record<string, string>): string {
  return Object.entries(selector)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
}
