import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { parser } from '@prometheus-io/lezer-promql';

/**
 * Finds alerting rules that cannot do their job: a rule file promtool rejects, a rule that never
 * fires on realistic series, a rule whose query fails on them, and mistakes visible in the
 * expression itself (a ratio compared with a bound it can never cross, `for` shorter than the
 * group's interval). Used by `resilience validate`.
 *
 * "Never fires" is decided by Prometheus itself, not by reimplementing PromQL: for each alerting
 * rule the check synthesizes the series a real exporter would expose for every selector of the
 * expression (with the exporter's own labels, see WELL_KNOWN_METRICS), drives them through a
 * grid of scenarios (idle to extreme, steady and sweeping) and runs `promtool test rules` with
 * tests that expect no alert. promtool reporting the alert is proof the rule can fire; silence in
 * every scenario is the finding. The seed's `pg_stat_database_numbackends / pg_settings_max_connections`
 * is the motivating case: the two sides carry different labels, so the division matches nothing.
 *
 * Limits, by design: a series' level is one of a few (idle to 1e9, ramps); every combination is
 * tried for up to three series in the sweep, a pairwise cover beyond that, so a rule that needs
 * four series in one particular combination can be reported wrongly. Siblings (a second replica
 * or node) follow their main series at a fraction of its level rather than independently.
 * Metrics outside WELL_KNOWN_METRICS get guessed labels and only warnings.
 */

/** What is wrong with a rule (or the file). */
export type RuleProblem =
  | 'invalid rule file'
  | 'never fires on realistic series'
  | 'fails to evaluate on realistic series'
  | 'could not be checked'
  | 'for shorter than the group interval'
  | 'ratio compared with a bound it can never cross'
  | 'ratio comparison always true';

/** One problem of one alerting rule (group and alert are '' for problems of the whole file). */
export interface RuleFinding {
  group: string;
  alert: string;
  /**
   * `error`: the rule cannot do its job, or promtool could not check it (timeout, failure: fail
   * closed); `warning`: suspicious, or a verdict resting on guesses (metrics not in
   * WELL_KNOWN_METRICS, an expression this checker cannot model).
   */
  severity: 'error' | 'warning';
  problem: RuleProblem;
  /** What was found and, for dynamic checks, what was tried. */
  detail: string;
}

export interface RuleCheckOptions {
  /** The promtool binary; default `promtool` from PATH. */
  promtool?: string;
  /** Time allowed for the dynamic check of one rule (all its promtool runs); default 30 s. */
  timeoutMs?: number;
  /** Evaluation interval of groups without `interval` (Prometheus's global default); default `1m`. */
  defaultInterval?: string;
  /** Where the (always removed) working directory is created; default the OS's temp dir. */
  tempDir?: string;
}

/** Thrown when promtool cannot be started at all: nothing can be checked (exit code 4 territory). */
export class PromtoolUnavailableError extends Error {
  override name = 'PromtoolUnavailableError';
}

/**
 * Checks every alerting rule of a Prometheus rule file. Runs `promtool check rules` first (its
 * errors are findings and stop the check), then static checks and, per alerting rule, the dynamic
 * "can it fire" check in a temporary directory that is always removed. Resolves to the findings,
 * empty when every rule can fire and nothing looks wrong; rejects only when promtool cannot run.
 */
export async function checkAlertRules(ruleFileArgument: string, options: RuleCheckOptions = {}): Promise<RuleFinding[]> {
  const ruleFile = path.resolve(ruleFileArgument);
  const promtool = options.promtool ?? 'promtool';
  const timeoutMs = options.timeoutMs ?? 30_000;
  const defaultIntervalSec = parseDurationSeconds(options.defaultInterval ?? '1m');
  if (defaultIntervalSec === undefined || defaultIntervalSec <= 0) throw new Error(`invalid defaultInterval: ${options.defaultInterval}`);

  const check = await runPromtool(promtool, ['check', 'rules', ruleFile], path.dirname(ruleFile), 30_000);
  if (check.timedOut || check.exitCode !== 0) return promtoolCheckFindings(check);

  let file: RuleFileContent;
  try {
    file = readRuleFile(await readFile(ruleFile, 'utf8'));
  } catch (error) {
    return [{ group: '', alert: '', severity: 'error', problem: 'could not be checked', detail: `promtool accepted the file but it could not be read as a rule file: ${errorMessage(error)}` }];
  }

  const findings: RuleFinding[] = [];
  const context = buildContext(file);
  const workDir = await mkdtemp(path.join(options.tempDir ?? tmpdir(), 'rule-check-'));
  try {
    for (const group of file.groups) {
      const intervalSec = group.interval === undefined ? defaultIntervalSec : parseDurationSeconds(group.interval) ?? defaultIntervalSec;
      for (const [index, rule] of group.rules.entries()) {
        if (rule.alert === undefined) continue;
        const target: AlertTarget = { group, index, rule, alert: rule.alert, intervalSec, forSec: rule.for === undefined ? 0 : parseDurationSeconds(rule.for) ?? 0 };
        findings.push(...staticFindings(target));
        findings.push(...(await dynamicFindings(target, context, { promtool, timeoutMs, workDir })));
      }
    }
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
  return findings;
}

// ---- promtool ------------------------------------------------------------------------------

interface PromtoolRun {
  exitCode: number | undefined;
  timedOut: boolean;
  output: string;
}

async function runPromtool(promtool: string, args: string[], cwd: string, timeoutMs: number): Promise<PromtoolRun> {
  const result = await execa(promtool, args, { cwd, reject: false, all: true, timeout: Math.max(1, Math.round(timeoutMs)), forceKillAfterDelay: 1000, stdin: 'ignore' });
  if (result.failed && result.exitCode === undefined && !result.timedOut) {
    throw new PromtoolUnavailableError(`promtool could not run (${promtool}; is Prometheus's promtool installed and on PATH?): ${result.message}`);
  }
  return { exitCode: result.exitCode, timedOut: result.timedOut, output: result.all ?? '' };
}

/**
 * `promtool check rules` prints, after "FAILED:", one line per problem:
 * `<file>: 5:15: group "g", rule 1, "Name": could not parse expression: …` or `<file>: yaml: …`.
 */
function promtoolCheckFindings(check: PromtoolRun): RuleFinding[] {
  if (check.timedOut) return [{ group: '', alert: '', severity: 'error', problem: 'could not be checked', detail: 'promtool check rules did not finish in time' }];
  const findings: RuleFinding[] = [];
  const seen = new Set<string>();
  for (const raw of check.output.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('Checking ') || line === 'FAILED:' || line.startsWith('SUCCESS') || seen.has(line)) continue;
    seen.add(line);
    const located = /group "([^"]*)", rule \d+, "([^"]*)": (.*)$/.exec(line);
    const message = line.replace(/^\S+?: (?=\d+:\d+: |yaml: |group ")/, '');
    findings.push({ group: located?.[1] ?? '', alert: located?.[2] ?? '', severity: 'error', problem: 'invalid rule file', detail: `promtool check rules: ${message}` });
  }
  if (findings.length === 0) findings.push({ group: '', alert: '', severity: 'error', problem: 'invalid rule file', detail: `promtool check rules failed (exit code ${check.exitCode}) without saying why` });
  return findings;
}

// ---- the rule file -------------------------------------------------------------------------

interface RuleEntry {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  /** The rule as written, re-serialized into the temporary rule file untouched. */
  raw: Record<string, unknown>;
}

interface RuleGroup {
  name: string;
  interval?: string;
  rules: RuleEntry[];
  raw: Record<string, unknown>;
}

interface RuleFileContent {
  groups: RuleGroup[];
}

function readRuleFile(text: string): RuleFileContent {
  const document: unknown = parseYaml(text);
  if (!isRecord(document) || !Array.isArray(document.groups)) throw new Error('no "groups" list');
  const groups: RuleGroup[] = [];
  for (const rawGroup of document.groups as unknown[]) {
    if (!isRecord(rawGroup) || typeof rawGroup.name !== 'string' || !Array.isArray(rawGroup.rules)) throw new Error('a group without name or rules');
    const rules: RuleEntry[] = [];
    for (const rawRule of rawGroup.rules as unknown[]) {
      if (!isRecord(rawRule) || typeof rawRule.expr !== 'string') throw new Error(`a rule without expr in group "${rawGroup.name}"`);
      rules.push({
        alert: typeof rawRule.alert === 'string' ? rawRule.alert : undefined,
        record: typeof rawRule.record === 'string' ? rawRule.record : undefined,
        expr: rawRule.expr,
        for: typeof rawRule.for === 'string' ? rawRule.for : undefined,
        raw: rawRule,
      });
    }
    groups.push({ name: rawGroup.name, interval: typeof rawGroup.interval === 'string' ? rawGroup.interval : undefined, rules, raw: rawGroup });
  }
  return { groups };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Prometheus durations: `1h30m`, `500ms`, `90s`. Undefined when not one. */
export function parseDurationSeconds(text: string): number | undefined {
  const trimmed = text.trim();
  if (!/^(?:\d+(?:ms|s|m|h|d|w|y))+$/.test(trimmed)) return /^\d+(?:\.\d+)?$/.test(trimmed) ? Number(trimmed) : undefined;
  const unit: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, y: 31_536_000 };
  let total = 0;
  for (const match of trimmed.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)) total += Number(match[1]) * (unit[match[2] ?? 's'] ?? 1);
  return total;
}

function formatDuration(seconds: number): string {
  if (seconds % 3600 === 0 && seconds >= 3600) return `${seconds / 3600}h`;
  if (seconds >= 3600) return `${Math.floor(seconds / 3600)}h${formatDuration(seconds % 3600)}`;
  if (seconds % 60 === 0 && seconds >= 60) return `${seconds / 60}m`;
  if (seconds >= 60) return `${Math.floor(seconds / 60)}m${seconds % 60}s`;
  return `${seconds}s`;
}

// ---- PromQL facts, from the lezer parse tree ------------------------------------------------

type SyntaxNode = ReturnType<typeof parser.parse>['topNode'];

type MatchOp = '=' | '!=' | '=~' | '!~';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

interface Matcher {
  label: string;
  op: MatchOp;
  value: string;
}

interface SelectorUse {
  metric: string;
  matchers: Matcher[];
  /** Inside rate(), irate(), increase() or resets(): the series is a counter whatever its name. */
  asCounter: boolean;
  /** Inside absent() or absent_over_time(): the series being missing is the interesting case. */
  inAbsent: boolean;
  node: SyntaxNode;
  /** Read by a recording rule the alert uses, not by the alert's own expression. */
  fromRecording: boolean;
}

interface ExpressionFacts {
  root: SyntaxNode;
  selectors: SelectorUse[];
  /** Label names in by/without/on/ignoring/group_* clauses. */
  groupingLabels: Set<string>;
  /** Longest range or subquery range plus the longest offset: how far back one evaluation looks. */
  lookbackSec: number;
  /** Shortest range: the series must be sampled often enough for rate() to see two samples. */
  minRangeSec: number | undefined;
  syntaxError: string | undefined;
}

const COUNTER_FUNCTIONS = new Set(['Rate', 'Irate', 'Increase', 'Resets']);
const ABSENT_FUNCTIONS = new Set(['Absent', 'AbsentOverTime']);

function analyzeExpression(expr: string): ExpressionFacts {
  const tree = parser.parse(expr);
  const selectors: SelectorUse[] = [];
  const groupingLabels = new Set<string>();
  let maxRange = 0;
  let maxOffset = 0;
  let minRange: number | undefined;
  let syntaxError: string | undefined;
  const text = (node: SyntaxNode): string => expr.slice(node.from, node.to);
  tree.iterate({
    enter: (ref) => {
      const node = ref.node;
      if (ref.type.isError && syntaxError === undefined) syntaxError = `cannot parse the expression near column ${ref.from + 1}: ${expr.slice(Math.max(0, ref.from - 10), ref.from + 10)}`;
      switch (ref.name) {
        case 'VectorSelector': {
          const selector = readSelector(node, text);
          if (selector !== undefined) selectors.push(selector);
          break;
        }
        case 'MatrixSelector': {
          const range = durationChild(node, text);
          if (range !== undefined) {
            maxRange = Math.max(maxRange, range);
            minRange = Math.min(minRange ?? range, range);
          }
          break;
        }
        case 'SubqueryExpr': {
          const range = durationChild(node, text);
          if (range !== undefined) maxRange = Math.max(maxRange, range);
          break;
        }
        case 'OffsetExpr': {
          const offsetNode = node.getChild('OffsetDurationExpr');
          const offset = offsetNode === null ? undefined : parseDurationSeconds(text(offsetNode).replace(/^-/, ''));
          if (offset !== undefined) maxOffset = Math.max(maxOffset, offset);
          break;
        }
        case 'GroupingLabels':
          for (const label of node.getChildren('LabelName')) groupingLabels.add(text(label));
          break;
        default:
          break;
      }
    },
  });
  return { root: tree.topNode, selectors, groupingLabels, lookbackSec: maxRange + maxOffset, minRangeSec: minRange, syntaxError };
}

function durationChild(node: SyntaxNode, text: (node: SyntaxNode) => string): number | undefined {
  const duration = node.getChild('DurationExpr');
  return duration === null ? undefined : parseDurationSeconds(text(duration));
}

function readSelector(node: SyntaxNode, text: (node: SyntaxNode) => string): SelectorUse | undefined {
  const identifier = node.getChild('Identifier');
  const matchers: Matcher[] = [];
  const list = node.getChild('LabelMatchers');
  for (const matcherNode of list?.getChildren('UnquotedLabelMatcher') ?? []) {
    const name = matcherNode.getChild('LabelName');
    const op = matcherNode.getChild('MatchOp')?.firstChild;
    const value = matcherNode.getChild('StringLiteral');
    if (name === null || op === undefined || op === null || value === null) continue;
    matchers.push({ label: text(name), op: text(op) as MatchOp, value: decodeStringLiteral(text(value)) });
  }
  let metric = identifier === null ? undefined : text(identifier);
  if (metric === undefined) {
    // `{__name__="x"}`: the name is a matcher; a regex name gets an example that matches it.
    const nameMatcher = matchers.find((m) => m.label === '__name__' && (m.op === '=' || m.op === '=~'));
    const examples = nameMatcher === undefined ? [] : regexExamples(nameMatcher.value);
    metric = nameMatcher?.op === '=' ? nameMatcher.value : (examples.find((name) => METRIC_NAME.test(name)) ?? examples[0]);
  }
  if (metric === undefined) return undefined;
  let asCounter = false;
  let inAbsent = false;
  for (let parent = node.parent; parent !== null; parent = parent.parent) {
    if (parent.name !== 'FunctionCall') continue;
    const fn = parent.getChild('FunctionIdentifier')?.firstChild?.name ?? '';
    if (COUNTER_FUNCTIONS.has(fn)) asCounter = true;
    if (ABSENT_FUNCTIONS.has(fn)) inAbsent = true;
  }
  return { metric, matchers: matchers.filter((m) => m.label !== '__name__'), asCounter, inAbsent, node, fromRecording: false };
}

/** A PromQL string literal's value: "…" and '…' with Go escapes, `…` raw. */
function decodeStringLiteral(literal: string): string {
  const quote = literal.charAt(0);
  const body = literal.slice(1, -1);
  if (quote === '`') return body;
  return body.replace(/\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)/g, (_, escape: string) => {
    const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', a: '\x07', b: '\b', f: '\f', v: '\v' };
    if (escape.length === 1) return simple[escape] ?? escape;
    if (/^[0-7]{3}$/.test(escape)) return String.fromCodePoint(parseInt(escape, 8));
    return String.fromCodePoint(parseInt(escape.slice(1), 16));
  });
}

// ---- regular expressions: matching and examples --------------------------------------------

const regexCache = new Map<string, RegExp | null>();

/** Prometheus regex matchers are fully anchored RE2; JavaScript agrees on the syntax rules use. */
function compileAnchored(pattern: string): RegExp | null {
  const cached = regexCache.get(pattern);
  if (cached !== undefined) return cached;
  let flags = '';
  let body = pattern;
  const inline = /^\(\?([is]+)\)/.exec(body);
  if (inline !== null) {
    flags = inline[1] ?? '';
    body = body.slice(inline[0].length);
  }
  let compiled: RegExp | null;
  try {
    compiled = new RegExp(`^(?:${body})$`, `${flags}u`);
  } catch {
    try {
      compiled = new RegExp(`^(?:${body})$`, flags);
    } catch {
      compiled = null;
    }
  }
  regexCache.set(pattern, compiled);
  return compiled;
}

function matches(matcher: Matcher, value: string): boolean {
  switch (matcher.op) {
    case '=':
      return value === matcher.value;
    case '!=':
      return value !== matcher.value;
    case '=~':
      return compileAnchored(matcher.value)?.test(value) ?? false;
    case '!~':
      return !(compileAnchored(matcher.value)?.test(value) ?? true);
  }
}

/**
 * Strings the regex matches, one per top-level alternative: each built from the pattern with the
 * first choice everywhere (`5..` → `500`, `a|b` → `a`, `b`, `[0-9]+` → `0`). Only those the
 * regex really matches are returned.
 */
export function regexExamples(pattern: string): string[] {
  const body = pattern.replace(/^\(\?[is]+\)/, '');
  const examples: string[] = [];
  for (const alternative of splitTopLevel(body)) {
    const example = exampleOf(alternative);
    const compiled = compileAnchored(pattern);
    if (example !== undefined && (compiled === null || compiled.test(example)) && !examples.includes(example)) examples.push(example);
  }
  return examples;
}

function splitTopLevel(pattern: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let inClass = false;
  let start = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charAt(i);
    if (c === '\\') {
      i++;
    } else if (inClass) {
      if (c === ']') inClass = false;
    } else if (c === '[') {
      inClass = true;
      if (pattern.charAt(i + 1) === ']') i++;
    } else if (c === '(') {
      depth++;
    } else if (c === ')') {
      depth--;
    } else if (c === '|' && depth === 0) {
      parts.push(pattern.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(pattern.slice(start));
  return parts;
}

/** The first string an alternative (no top-level `|`) matches; undefined when it is beyond this generator. */
function exampleOf(pattern: string): string | undefined {
  let out = '';
  let i = 0;
  while (i < pattern.length) {
    const c = pattern.charAt(i);
    let atom: string | undefined;
    if (c === '(') {
      const end = closingParen(pattern, i);
      if (end === -1) return undefined;
      let inner = pattern.slice(i + 1, end);
      const flagsOrName = /^\?(?:P?<[^>]+>|[a-zA-Z]*:)/.exec(inner);
      if (flagsOrName !== null) inner = inner.slice(flagsOrName[0].length);
      atom = exampleOf(splitTopLevel(inner)[0] ?? '');
      i = end + 1;
    } else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end === -1) return undefined;
      atom = exampleOfClass(pattern.slice(i + 1, end));
      i = end + 1;
    } else if (c === '\\') {
      const escaped = pattern.charAt(i + 1);
      const classes: Record<string, string> = { d: '0', D: 'a', w: 'a', W: '-', s: ' ', S: 'a' };
      atom = classes[escaped] ?? escaped;
      i += 2;
    } else if (c === '.') {
      atom = '0';
      i++;
    } else if (c === '^' || c === '$') {
      atom = '';
      i++;
    } else {
      atom = c;
      i++;
    }
    if (atom === undefined) return undefined;
    // Quantifiers: take the fewest repetitions allowed.
    let repeat = 1;
    const quantifier = /^(?:[*?]|\+|\{(\d+)(?:,\d*)?\})\??/.exec(pattern.slice(i));
    if (quantifier !== null) {
      const q = quantifier[0].charAt(0);
      repeat = q === '*' || q === '?' ? 0 : q === '+' ? 1 : Number(quantifier[1]);
      i += quantifier[0].length;
    }
    out += atom.repeat(repeat);
  }
  return out;
}

function closingParen(pattern: string, open: number): number {
  let depth = 0;
  for (let i = open; i < pattern.length; i++) {
    const c = pattern.charAt(i);
    if (c === '\\') i++;
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  return -1;
}

function exampleOfClass(body: string): string | undefined {
  if (body.startsWith('^')) {
    const negated = compileAnchored(`[${body}]`);
    return ['a', '0', 'x', '-', '_'].find((candidate) => negated?.test(candidate) ?? false);
  }
  const first = body.charAt(0) === '\\' ? body.slice(0, 2) : body.charAt(0);
  return first.startsWith('\\') ? ({ d: '0', w: 'a', s: ' ' } as Record<string, string>)[first.charAt(1)] ?? first.charAt(1) : first;
}

// ---- well-known metrics --------------------------------------------------------------------

/** How a series' values behave over time. */
export type SeriesKind = 'counter' | 'gauge' | 'ratio' | 'histogram';

/** What a real target exposes for a family of metric names: the labels its series carry. */
export interface WellKnownMetricFamily {
  /** The metric names this entry describes (first matching entry wins). */
  names: RegExp;
  /** Who exposes them, for the reader of this table. */
  exporter: string;
  /** The `job` and `instance` target labels Prometheus attaches when scraping that exporter. */
  job: string;
  instance: string;
  /** The series' own labels besides job and instance; values come from LABEL_VALUES. */
  labels: readonly string[];
  /** Labels every series of the family carries with a fixed value (e.g. kube-prometheus's metrics_path). */
  constantLabels?: Readonly<Record<string, string>>;
  /** When the name does not say it: `_total`/`_count`/`_sum` are counters, `_bucket` histograms, `_ratio` 0..1. */
  kind?: SeriesKind;
  /**
   * Further series real targets expose beside the main one, as label overrides: another replica,
   * another node, a pod's pause container. They take the main series' level scaled by 1/2, 1/3…,
   * so sums differ from maxima and series differ from each other, as they do in production.
   */
  siblings?: readonly Readonly<Record<string, string>>[];
}

const API = { exporter: 'hastecrm API (prom-client), two replicas', job: 'hastecrm-api', instance: '10.244.1.17:3000', siblings: [{ instance: '10.244.2.9:3000' }] } as const;
const K6 = { exporter: 'load engine / k6 (Prometheus remote-write names)', job: 'k6', instance: '127.0.0.1:6565' } as const;
const INGRESS = { exporter: 'local ingress (/-/metrics)', job: 'ingress', instance: '127.0.0.1:8080' } as const;
const POSTGRES = { exporter: 'postgres_exporter', job: 'postgres', instance: 'postgres-exporter:9187' } as const;
const KSM = { exporter: 'kube-state-metrics', job: 'kube-state-metrics', instance: '10.244.0.9:8080' } as const;
const KUBELET = { job: 'kubelet', instance: 'node-1' } as const;
const NODE = { exporter: 'node_exporter, two nodes', job: 'node-exporter', instance: 'node-1:9100', siblings: [{ instance: 'node-2:9100' }] } as const;

/**
 * The labels real exporters give their series, so synthesized series join (or fail to join)
 * exactly as production series would. A metric not listed gets job and instance plus the labels
 * its selectors and the expression's by/on clauses name, and "never fires" on it is only a warning.
 */
export const WELL_KNOWN_METRICS: readonly WellKnownMetricFamily[] = [
  { ...API, names: /^http_requests_total$|^http_request_duration_seconds(?:_bucket|_count|_sum)$/, labels: ['status', 'method', 'route'] },
  { ...API, names: /^http_requests_in_flight$/, labels: [] },
  { ...API, names: /^cache_errors_total$/, labels: ['operation'] },
  { ...API, names: /^cache_lookups_total$/, labels: ['result'] },
  { ...API, names: /^db_pool_connections$/, labels: ['state'] },
  { ...API, names: /^(?:process|nodejs)_/, labels: [] },
  { ...K6, names: /^k6_http_reqs_total$|^k6_http_req_duration_seconds(?:_bucket|_count|_sum)$/, labels: ['scenario', 'name', 'method', 'status', 'expected_response'] },
  { ...K6, names: /^k6_/, labels: ['scenario'] },
  { ...INGRESS, names: /^ingress_requests_total$/, labels: ['status'] },
  { ...INGRESS, names: /^ingress_upstream_attempts_total$/, labels: ['upstream', 'outcome'] },
  { ...INGRESS, names: /^ingress_upstream_eject/, labels: ['upstream'] },
  { ...INGRESS, names: /^ingress_/, labels: [] },
  // postgres_exporter's pg_stat_database counters keep PostgreSQL's names (no _total).
  { ...POSTGRES, names: /^pg_stat_database_(?:xact_commit|xact_rollback|blks_read|blks_hit|tup_\w+|conflicts|temp_files|temp_bytes|deadlocks|blk_\w+_time)$/, labels: ['datid', 'datname'], kind: 'counter' },
  { ...POSTGRES, names: /^pg_stat_database_/, labels: ['datid', 'datname'] },
  { ...POSTGRES, names: /^pg_stat_activity_/, labels: ['datname', 'state'] },
  { ...POSTGRES, names: /^pg_/, labels: [] },
  { exporter: 'redis_exporter', job: 'redis', instance: 'redis-exporter:9121', names: /^redis_/, labels: [] },
  // cAdvisor (kubelet /metrics/cadvisor): besides each container, every pod has its pause
  // container (container="POD") and its pod-level cgroup (no container, image or name label).
  {
    exporter: 'cAdvisor (kubelet)',
    ...KUBELET,
    names: /^container_/,
    labels: ['container', 'id', 'image', 'name', 'namespace', 'pod'],
    constantLabels: { metrics_path: '/metrics/cadvisor' },
    siblings: [
      { container: 'POD', id: '/kubepods/burstable/pod6f1c2d3e/9e8d7c6b', image: 'registry.k8s.io/pause:3.9', name: '9e8d7c6b' },
      { container: '', id: '/kubepods/burstable/pod6f1c2d3e', image: '', name: '' },
    ],
  },
  { exporter: 'kubelet', ...KUBELET, names: /^kubelet_volume_stats_/, labels: ['namespace', 'persistentvolumeclaim'], constantLabels: { metrics_path: '/metrics' } },
  { exporter: 'kubelet', ...KUBELET, names: /^kubelet_/, labels: [], constantLabels: { metrics_path: '/metrics' } },
  { ...KSM, names: /^kube_pod_container_/, labels: ['namespace', 'pod', 'uid', 'container'] },
  { ...KSM, names: /^kube_pod_status_(?:ready|phase|condition)/, labels: ['namespace', 'pod', 'uid', 'condition'] },
  { ...KSM, names: /^kube_pod_/, labels: ['namespace', 'pod', 'uid'] },
  { ...KSM, names: /^kube_deployment_/, labels: ['namespace', 'deployment'] },
  { ...KSM, names: /^kube_statefulset_/, labels: ['namespace', 'statefulset'] },
  { ...KSM, names: /^kube_daemonset_/, labels: ['namespace', 'daemonset'] },
  { ...KSM, names: /^kube_horizontalpodautoscaler_/, labels: ['namespace', 'horizontalpodautoscaler'] },
  { ...KSM, names: /^kube_persistentvolumeclaim_/, labels: ['namespace', 'persistentvolumeclaim'] },
  { ...KSM, names: /^kube_node_/, labels: ['node'], siblings: [{ node: 'node-2' }] },
  { ...KSM, names: /^kube_/, labels: ['namespace'] },
  { ...NODE, names: /^node_filesystem_/, labels: ['device', 'fstype', 'mountpoint'] },
  { ...NODE, names: /^node_cpu_seconds_total$/, labels: ['cpu', 'mode'] },
  { ...NODE, names: /^node_(?:network|disk)_/, labels: ['device'] },
  { ...NODE, names: /^node_/, labels: [] },
  { exporter: 'Prometheus (every target)', job: API.job, instance: API.instance, siblings: API.siblings, names: /^up$|^scrape_/, labels: [] },
  { exporter: 'Prometheus', job: 'prometheus', instance: 'localhost:9090', names: /^prometheus_/, labels: [] },
];

/**
 * Label values real targets use: the first is the default, the others are tried when a matcher
 * rules the default out. Labels not listed get `<label>-1`, `<label>-2`.
 */
export const LABEL_VALUES: Readonly<Record<string, readonly string[]>> = {
  status: ['200', '500', '404', '503', '201'],
  code: ['200', '500', '404', '503'],
  method: ['GET', 'POST', 'PUT', 'DELETE'],
  route: ['/api/contacts', '/api/contacts/:id', '/health'],
  namespace: ['hastecrm-production', 'hastecrm-staging', 'kube-system'],
  pod: ['hastecrm-api-6d5f7c9b8-x7k2p', 'hastecrm-api-6d5f7c9b8-q4n8d'],
  uid: ['6f1c2d3e-8a9b-4c5d-9e0f-1a2b3c4d5e6f'],
  container: ['api', 'istio-proxy'],
  id: ['/kubepods/burstable/pod6f1c2d3e/3b2a1f0e'],
  image: ['ghcr.io/hastecrm/api:1.4.2'],
  name: ['3b2a1f0e'],
  node: ['node-1', 'node-2'],
  deployment: ['hastecrm-api'],
  statefulset: ['postgres'],
  daemonset: ['node-exporter'],
  horizontalpodautoscaler: ['hastecrm-api'],
  persistentvolumeclaim: ['data-postgres-0'],
  condition: ['true', 'false', 'unknown'],
  datname: ['crm_production', 'postgres', 'template1'],
  datid: ['16384', '5', '1'],
  state: ['active', 'idle', 'total', 'waiting'],
  device: ['/dev/sda1', 'eth0'],
  fstype: ['ext4', 'tmpfs'],
  mountpoint: ['/', '/var/lib/postgresql'],
  cpu: ['0', '1'],
  mode: ['idle', 'user', 'system', 'iowait'],
  scenario: ['default'],
  expected_response: ['true', 'false'],
  upstream: ['127.0.0.1:3001', '127.0.0.1:3002'],
  outcome: ['ok', 'status_503', 'refused', 'timeout'],
  operation: ['get', 'set', 'invalidate'],
  result: ['hit', 'miss'],
  resource: ['memory', 'cpu'],
  unit: ['byte', 'core'],
};

/** Target labels of a metric the table does not know (when the rule file names no job). */
const UNKNOWN_TARGET: Readonly<Record<string, string>> = { job: 'app', instance: '10.244.1.20:8080' };

/** prom-client's default buckets; the project's histograms use these edges or a superset. */
const BUCKETS = ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf'];

function familyOf(metric: string): WellKnownMetricFamily | undefined {
  return WELL_KNOWN_METRICS.find((family) => family.names.test(metric));
}

// ---- series synthesis ----------------------------------------------------------------------

interface Series {
  metric: string;
  labels: Record<string, string>;
  key: string;
  /** Multiplies its slot's level: 1 for the main series, 1/2, 1/3… for siblings. */
  scale: number;
}

/** Series whose values move together (one level at a time): a series and its siblings, or a histogram's buckets. */
interface Slot {
  kind: SeriesKind;
  series: Series[];
  /** Some selector reads it inside absent(): also try the series not existing. */
  tryAbsent: boolean;
  /** Its labels come from WELL_KNOWN_METRICS (or a recording rule), not guessed. */
  known: boolean;
}

interface Synthesis {
  slots: Slot[];
  /** Selectors no series could be built for, with the reason. */
  unsatisfiable: string[];
  /** Series of each selector of the alert's own expression, by nodeKey (for explaining label mismatches). */
  seriesOf: Map<string, Series>;
}

interface CheckContext {
  /** Recording rules by the metric they record. */
  recorded: Map<string, RuleEntry>;
  /** Equality matchers anywhere in the file: the values the file's author uses for each label. */
  fileLabelValues: Map<string, string>;
  file: RuleFileContent;
}

function buildContext(file: RuleFileContent): CheckContext {
  const recorded = new Map<string, RuleEntry>();
  const fileLabelValues = new Map<string, string>();
  for (const group of file.groups) {
    for (const rule of group.rules) {
      if (rule.record !== undefined) recorded.set(rule.record, rule);
      for (const selector of analyzeExpression(rule.expr).selectors) {
        for (const m of selector.matchers) if (m.op === '=' && m.value !== '' && !fileLabelValues.has(m.label)) fileLabelValues.set(m.label, m.value);
      }
    }
  }
  return { recorded, fileLabelValues, file };
}

/** The selectors the rule's series come from: recorded metrics are replaced by their recording rules' selectors. */
function inputSelectors(facts: ExpressionFacts, context: CheckContext, seen = new Set<string>()): { selectors: SelectorUse[]; lookbackSec: number; minRangeSec: number | undefined; groupingLabels: Set<string> } {
  const selectors: SelectorUse[] = [];
  const groupingLabels = new Set(facts.groupingLabels);
  let lookbackSec = facts.lookbackSec;
  let minRangeSec = facts.minRangeSec;
  for (const selector of facts.selectors) {
    const recording = context.recorded.get(selector.metric);
    if (recording === undefined || seen.has(selector.metric)) {
      selectors.push(selector);
      continue;
    }
    const inner = inputSelectors(analyzeExpression(recording.expr), context, new Set([...seen, selector.metric]));
    selectors.push(...inner.selectors.map((use) => ({ ...use, fromRecording: true })));
    for (const label of inner.groupingLabels) groupingLabels.add(label);
    lookbackSec = Math.max(lookbackSec, facts.lookbackSec + inner.lookbackSec);
    if (inner.minRangeSec !== undefined) minRangeSec = Math.min(minRangeSec ?? inner.minRangeSec, inner.minRangeSec);
  }
  return { selectors, lookbackSec, minRangeSec, groupingLabels };
}

/** Identifies a node of the alert's own expression (lezer hands out fresh node objects on every walk). */
function nodeKey(node: SyntaxNode): string {
  return `${node.from}:${node.to}`;
}

function seriesKey(metric: string, labels: Record<string, string>): string {
  const inner = Object.keys(labels)
    .sort()
    .map((name) => `${name}=${JSON.stringify(labels[name])}`)
    .join(',');
  return `${metric}{${inner}}`;
}

function makeSeries(metric: string, labels: Record<string, string>, scale = 1): Series {
  const clean: Record<string, string> = {};
  for (const name of Object.keys(labels).sort()) {
    const value = labels[name];
    if (value !== undefined && value !== '') clean[name] = value;
  }
  return { metric, labels: clean, key: seriesKey(metric, clean), scale };
}

function satisfies(series: Series, matchers: readonly Matcher[]): boolean {
  return matchers.every((m) => matches(m, series.labels[m.label] ?? ''));
}

/** A value for `label` that every matcher accepts, preferring the values real targets use. */
function pickValue(label: string, matchers: readonly Matcher[], preferred: readonly (string | undefined)[]): string | undefined {
  const own = matchers.filter((m) => m.label === label);
  const candidates: string[] = [];
  for (const m of own) if (m.op === '=') candidates.push(m.value);
  for (const value of preferred) if (value !== undefined) candidates.push(value);
  candidates.push(...(LABEL_VALUES[label] ?? []));
  for (const m of own) if (m.op === '=~') candidates.push(...regexExamples(m.value));
  candidates.push(`${label}-1`, `${label}-2`, 'other');
  return candidates.find((value) => value !== '' && own.every((m) => matches(m, value)));
}

function synthesize(selectors: readonly SelectorUse[], facts: { groupingLabels: Set<string> }, expressionLabelValues: Map<string, string>, context: CheckContext): Synthesis {
  const slots: Slot[] = [];
  const owned = new Set<string>();
  const unsatisfiable: string[] = [];
  const seriesOf = new Map<string, Series>();
  const world = (label: string): string | undefined => expressionLabelValues.get(label) ?? context.fileLabelValues.get(label);

  /** The series a target would expose for the selector (and the extra matchers), or undefined if none can match. */
  const mainSeries = (selector: SelectorUse, extraMatchers: Matcher[] = []): Series | undefined => {
    const family = familyOf(selector.metric);
    const matchers = [...selector.matchers, ...extraMatchers];
    const names = new Set<string>(['job', 'instance', ...(family?.labels ?? [])]);
    if (family === undefined) for (const label of facts.groupingLabels) names.add(label);
    for (const m of matchers) if (!matches(m, '')) names.add(m.label);
    if (selector.metric.endsWith('_bucket')) names.delete('le');
    const labels: Record<string, string> = { ...(family?.constantLabels ?? {}) };
    for (const label of names) {
      // job and instance are the scrape target's: the exporter's for a known metric, else the
      // ones the rule file uses.
      const target = label === 'job' ? family?.job : label === 'instance' ? family?.instance : undefined;
      const preferred = target !== undefined ? [target, world(label)] : [world(label), UNKNOWN_TARGET[label]];
      const value = pickValue(label, matchers, preferred);
      if (value === undefined) return undefined;
      labels[label] = value;
    }
    const series = makeSeries(selector.metric, labels);
    return satisfies(series, matchers.filter((m) => m.label !== 'le')) ? series : undefined;
  };

  const addSlot = (selector: SelectorUse, main: Series): void => {
    if (owned.has(main.key)) return;
    const family = familyOf(selector.metric);
    const group: Series[] = [];
    const candidates = [main, ...(family?.siblings ?? []).map((sibling, i) => makeSeries(main.metric, { ...main.labels, ...sibling }, 1 / (i + 2)))];
    for (const candidate of candidates) {
      if (owned.has(candidate.key) || !satisfies(candidate, selector.matchers.filter((m) => m.label !== 'le'))) continue;
      if (selector.metric.endsWith('_bucket')) {
        const leMatchers = selector.matchers.filter((m) => m.label === 'le');
        const edges = BUCKETS.filter((le) => leMatchers.every((m) => matches(m, le)));
        const equal = leMatchers.find((m) => m.op === '=');
        if (edges.length === 0 && equal !== undefined) edges.push(equal.value);
        for (const le of edges) group.push(makeSeries(candidate.metric, { ...candidate.labels, le }, candidate.scale));
      } else {
        group.push(candidate);
      }
      owned.add(candidate.key);
    }
    if (group.length === 0) return;
    const usedAsCounter = selectors.some((s) => s.metric === selector.metric && s.asCounter);
    slots.push({
      kind: kindOf(selector.metric, family, usedAsCounter),
      series: group,
      tryAbsent: selectors.some((s) => s.metric === selector.metric && s.inAbsent),
      known: family !== undefined,
    });
  };

  for (const selector of selectors) {
    if (!METRIC_NAME.test(selector.metric)) {
      unsatisfiable.push(`${selectorText(selector)}: no valid metric name matches it`);
      continue;
    }
    const main = mainSeries(selector);
    if (main === undefined) {
      unsatisfiable.push(`${selectorText(selector)}: no label values satisfy its matchers`);
      continue;
    }
    if (!selector.fromRecording) seriesOf.set(nodeKey(selector.node), main);
    addSlot(selector, main);
    // If this selector's series is also another selector's (x and x{status="200"}), the two
    // would always move together: add a series only this selector reads, as real traffic has.
    for (const other of selectors) {
      if (other === selector || other.metric !== selector.metric || !satisfies(main, other.matchers)) continue;
      const constrained = new Set(selector.matchers.map((m) => m.label));
      for (const m of other.matchers) {
        if (constrained.has(m.label)) continue;
        const negated: Matcher = { ...m, op: m.op === '=' ? '!=' : m.op === '!=' ? '=' : m.op === '=~' ? '!~' : '=~' };
        const complement = mainSeries(selector, [negated]);
        if (complement !== undefined) {
          addSlot(selector, complement);
          break;
        }
      }
    }
  }
  return { slots, unsatisfiable, seriesOf };
}

function kindOf(metric: string, family: WellKnownMetricFamily | undefined, usedAsCounter: boolean): SeriesKind {
  if (metric.endsWith('_bucket')) return 'histogram';
  if (usedAsCounter) return 'counter';
  if (family?.kind !== undefined) return family.kind;
  if (/_(?:total|count|sum)$/.test(metric)) return 'counter';
  if (metric.endsWith('_ratio')) return 'ratio';
  return 'gauge';
}

function selectorText(selector: SelectorUse): string {
  return `${selector.metric}{${selector.matchers.map((m) => `${m.label}${m.op}${JSON.stringify(m.value)}`).join(',')}}`;
}

function seriesText(series: Series): string {
  return seriesKey(series.metric, series.labels);
}

// ---- values: levels and scenarios ----------------------------------------------------------

/** Per-sample values in promtool's expanding notation, for `samples` samples `stepSec` apart (scaled by the series' scale). */
interface Level {
  name: string;
  render(series: Series, samples: number, stepSec: number): string;
}

const LARGE = 1_000_000_000;

function constant(value: number, samples: number): string {
  return `${num(value)}x${samples - 1}`;
}

/**
 * Linear from `from` to `to`, then held at `to` for the last SWEEP_HOLD_SETTLES settle times:
 * a trend alert ("will hit zero within 4 h", predict_linear) needs the approach to the end and
 * its lookback to lie inside the run, not at its last sample.
 */
function ramp(from: number, to: number, samples: number): string {
  const rampSamples = Math.max(2, Math.round((samples * (SWEEP_SETTLES - SWEEP_HOLD_SETTLES)) / SWEEP_SETTLES));
  const step = (to - from) / (rampSamples - 1);
  const held = samples - rampSamples;
  return `${num(from)}${step < 0 ? '-' : '+'}${num(Math.abs(step))}x${rampSamples - 1}${held > 0 ? ` ${num(to)}x${held - 1}` : ''}`;
}

/** A counter whose rate (per second) changes in equal segments: `rates` in order. */
function counterSegments(rates: readonly number[], samples: number, stepSec: number): string {
  const parts: string[] = [];
  let value = 0;
  let emitted = 0;
  for (const [index, rate] of rates.entries()) {
    const count = index === rates.length - 1 ? samples - emitted : Math.floor(samples / rates.length);
    if (count <= 0) continue;
    const inc = rate * stepSec;
    // The first sample of the series is the counter's starting value.
    const start = emitted === 0 ? value : value + inc;
    parts.push(`${num(start)}+${num(inc)}x${count - 1}`);
    value = start + inc * (count - 1);
    emitted += count;
  }
  return parts.join(' ');
}

function num(value: number): string {
  const rounded = Number(value.toPrecision(12));
  return Number.isInteger(rounded) ? rounded.toFixed(0) : String(rounded);
}

const ABSENT_LEVEL: Level = { name: 'absent', render: (_s, samples) => `_x${samples - 1}` };

function counterLevel(name: string, rates: readonly number[]): Level {
  return { name, render: (series, samples, stepSec) => counterSegments(rates.map((rate) => rate * series.scale), samples, stepSec) };
}

/** Requests at `rate`/s taking `latencies` seconds (in segments): each bucket counts those at or below its edge. */
function histogramLevel(name: string, rate: number, latencies: readonly number[]): Level {
  return {
    name,
    render: (series, samples, stepSec) => {
      const le = series.labels.le === '+Inf' ? Infinity : Number(series.labels.le ?? 'Infinity');
      return counterSegments(latencies.map((latency) => (latency <= le ? rate * series.scale : 0)), samples, stepSec);
    },
  };
}

const STEADY_LEVELS: Record<SeriesKind, Level[]> = {
  counter: [counterLevel('no increase', [0]), counterLevel('0.1/s', [0.1]), counterLevel('100/s', [100])],
  gauge: [
    { name: '0', render: (_s, n) => constant(0, n) },
    { name: '1', render: (series, n) => constant(series.scale, n) },
    { name: '1e9', render: (series, n) => constant(LARGE * series.scale, n) },
  ],
  ratio: [
    { name: '0', render: (_s, n) => constant(0, n) },
    { name: '0.5', render: (series, n) => constant(0.5 * series.scale, n) },
    { name: '1', render: (series, n) => constant(series.scale, n) },
  ],
  histogram: [histogramLevel('no requests', 0, [0.001]), histogramLevel('10/s at 1 ms', 10, [0.001]), histogramLevel('10/s above every bucket', 10, [60])],
};

const SWEEP_LEVELS: Record<SeriesKind, Level[]> = {
  counter: [counterLevel('rate rising 0.01→100/s', [0.01, 0.1, 1, 10, 100]), counterLevel('rate falling 100→0.01/s', [100, 10, 1, 0.1, 0.01])],
  gauge: [
    { name: 'rising 0→1e9', render: (series, n) => ramp(0, LARGE * series.scale, n) },
    { name: 'falling 1e9→0', render: (series, n) => ramp(LARGE * series.scale, 0, n) },
  ],
  ratio: [
    { name: 'rising 0→1', render: (series, n) => ramp(0, series.scale, n) },
    { name: 'falling 1→0', render: (series, n) => ramp(series.scale, 0, n) },
  ],
  histogram: [
    histogramLevel('latency rising through every bucket', 10, [0.001, 0.007, 0.02, 0.04, 0.07, 0.2, 0.4, 0.7, 2, 4, 7, 60]),
    histogramLevel('latency falling through every bucket', 10, [60, 7, 4, 2, 0.7, 0.4, 0.2, 0.07, 0.04, 0.02, 0.007, 0.001]),
  ],
};

/**
 * Which level each slot takes in each scenario: every combination when there are at most
 * `limit`, else a greedy pairwise design (every pair of levels of every two slots meets once).
 */
export function designScenarios(levelCounts: readonly number[], limit: number): number[][] {
  const total = levelCounts.reduce((product, count) => product * count, 1);
  if (total <= limit) {
    const all: number[][] = [[]];
    for (const count of levelCounts) {
      const next: number[][] = [];
      for (const prefix of all) for (let level = 0; level < count; level++) next.push([...prefix, level]);
      all.splice(0, all.length, ...next);
    }
    return all;
  }
  const pairKey = (i: number, a: number, j: number, b: number): string => `${i}:${a}|${j}:${b}`;
  const uncovered = new Set<string>();
  const n = levelCounts.length;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) for (let a = 0; a < (levelCounts[i] ?? 0); a++) for (let b = 0; b < (levelCounts[j] ?? 0); b++) uncovered.add(pairKey(i, a, j, b));
  const scenarios: number[][] = [];
  while (uncovered.size > 0) {
    const first = uncovered.values().next().value as string;
    const [left, right] = first.split('|');
    const [i, a] = (left ?? '').split(':').map(Number);
    const [j, b] = (right ?? '').split(':').map(Number);
    const scenario: number[] = new Array<number>(n).fill(-1);
    scenario[i ?? 0] = a ?? 0;
    scenario[j ?? 0] = b ?? 0;
    for (let slot = 0; slot < n; slot++) {
      if ((scenario[slot] ?? -1) >= 0) continue;
      let best = 0;
      let bestGain = -1;
      for (let level = 0; level < (levelCounts[slot] ?? 0); level++) {
        let gain = 0;
        for (let other = 0; other < n; other++) {
          const otherLevel = scenario[other] ?? -1;
          if (other === slot || otherLevel < 0) continue;
          const key = slot < other ? pairKey(slot, level, other, otherLevel) : pairKey(other, otherLevel, slot, level);
          if (uncovered.has(key)) gain++;
        }
        if (gain > bestGain) {
          best = level;
          bestGain = gain;
        }
      }
      scenario[slot] = best;
    }
    for (let x = 0; x < n; x++) for (let y = x + 1; y < n; y++) uncovered.delete(pairKey(x, scenario[x] ?? 0, y, scenario[y] ?? 0));
    scenarios.push(scenario);
  }
  return scenarios;
}

// ---- the dynamic check ---------------------------------------------------------------------

interface AlertTarget {
  group: RuleGroup;
  index: number;
  rule: RuleEntry;
  alert: string;
  intervalSec: number;
  forSec: number;
}

interface Stage {
  name: 'steady' | 'sweep';
  levels: Level[][];
  scenarios: number[][];
  sampleSec: number;
  evalSec: number;
  spanSec: number;
  evalTimesSec: number[];
}

/** What one `promtool test rules` run of a stage showed. */
export interface StageOutcome {
  /** Scenario number → where it fired ("at 11m", "6 evaluations"). */
  fired: Map<number, string[]>;
  evalErrors: string[];
  unexpected: string | undefined;
  timedOut: boolean;
}

const STEADY_SCENARIO_LIMIT = 81;
/** 125: every combination of three series' five sweep levels; beyond that, pairwise. */
const SWEEP_SCENARIO_LIMIT = 125;
/**
 * Sweeps last this many settle times (lookback + for + two evaluations): ramps take all but the
 * last SWEEP_HOLD_SETTLES, so a band of 1/20 of a ramp (an alert on a ratio between 0.40 and
 * 0.45, say) holds for more than one settle time.
 */
const SWEEP_SETTLES = 26;
const SWEEP_HOLD_SETTLES = 2;
/** Bounds on samples per series and rule evaluations per scenario, which set promtool's run time. */
const MAX_SAMPLES = 480;
const MAX_TICKS = 240;
/** The longest sample interval used: an instant selector must find a sample within 5 m (staleness), with margin. */
const MAX_SAMPLE_SEC = 240;

async function dynamicFindings(target: AlertTarget, context: CheckContext, run: { promtool: string; timeoutMs: number; workDir: string }): Promise<RuleFinding[]> {
  const finding = (severity: RuleFinding['severity'], problem: RuleProblem, detail: string): RuleFinding => ({ group: target.group.name, alert: target.alert, severity, problem, detail });
  const facts = analyzeExpression(target.rule.expr);
  if (facts.syntaxError !== undefined) return [finding('warning', 'could not be checked', `${facts.syntaxError} (promtool accepted it; this checker's parser did not)`)];

  const inputs = inputSelectors(facts, context);
  const expressionLabelValues = new Map<string, string>();
  for (const selector of inputs.selectors) for (const m of selector.matchers) if (m.op === '=' && m.value !== '' && !expressionLabelValues.has(m.label)) expressionLabelValues.set(m.label, m.value);
  const synthesis = synthesize(inputs.selectors, inputs, expressionLabelValues, context);
  if (synthesis.unsatisfiable.length > 0 && synthesis.slots.length === 0 && inputs.selectors.length > 0) {
    return [finding('warning', 'could not be checked', `no realistic series could be built: ${synthesis.unsatisfiable.join('; ')}`)];
  }

  const deadline = Date.now() + run.timeoutMs;
  const stages = planStages(target, synthesis.slots, inputs.lookbackSec, inputs.minRangeSec);
  const tried: string[] = [];
  const evalErrors: string[] = [];
  for (const stage of stages) {
    const remaining = deadline - Date.now();
    if (remaining <= 0) return [finding('error', 'could not be checked', `promtool test rules did not finish within ${run.timeoutMs} ms (${tried.join('; ') || 'no scenario completed'})`)];
    const outcome = await runStage(target, context, synthesis.slots, stage, run, deadline);
    if (outcome.timedOut) return [finding('error', 'could not be checked', `promtool test rules did not finish within ${run.timeoutMs} ms while running ${stage.scenarios.length} ${stage.name} scenarios`)];
    evalErrors.push(...outcome.evalErrors);
    if (outcome.fired.size > 0) {
      // It can fire: the rule is fine, but say so if some realistic series made it fail.
      return evalErrors.length === 0 ? [] : [finding('warning', 'fails to evaluate on realistic series', `${unique(evalErrors).slice(0, 3).join('; ')} (the rule does fire in other scenarios)`)];
    }
    if (outcome.unexpected !== undefined) return [finding('error', 'could not be checked', `promtool test rules failed: ${outcome.unexpected}`)];
    tried.push(describeStage(stage));
  }

  const allKnown = synthesis.slots.every((slot) => slot.known);
  const severity = allKnown ? 'error' : 'warning';
  const series = synthesis.slots.map((slot) => `${slot.series.map(seriesText).slice(0, 3).join(', ')}${slot.series.length > 3 ? ` (+${slot.series.length - 3} more)` : ''} [${slot.kind}${slot.known ? '' : ', labels guessed'}]`);
  const hints = labelMismatchHints(facts.root, target.rule.expr, synthesis.seriesOf);
  if (synthesis.unsatisfiable.length > 0) hints.push(`no series could be built for ${synthesis.unsatisfiable.join('; ')}`);
  if (evalErrors.length > 0) {
    return [finding(severity, 'fails to evaluate on realistic series', `${unique(evalErrors).slice(0, 3).join('; ')}. Tried ${tried.join('; then ')}. Series: ${series.join('; ')}.`)];
  }
  const detail = [
    `never fired in ${tried.join('; then in ')}.`,
    series.length > 0 ? `Series: ${series.join('; ')}.` : 'The expression reads no series.',
    hints.length > 0 ? `Likely cause: ${hints.join('; ')}.` : '',
    allKnown ? '' : 'Some metrics are not in the table of well-known exporters, so their labels were guessed.',
  ]
    .filter((part) => part !== '')
    .join(' ');
  return [finding(severity, 'never fires on realistic series', detail)];
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function describeStage(stage: Stage): string {
  const levelNames = unique(stage.levels.map((levels) => levels.map((level) => level.name).join(', ')));
  return `${stage.scenarios.length} ${stage.name} scenarios over ${formatDuration(stage.spanSec)} (levels: ${levelNames.join(' / ')}; a sample every ${stage.sampleSec}s, rules evaluated every ${stage.evalSec}s)`;
}

/**
 * The steady stage holds every slot at one level until the alert has had time to fire (lookback
 * + for + two evaluations: "settle"); the sweep stage, run only if nothing fired, adds ramps over
 * SWEEP_SETTLES settle times. Sampling and evaluation get coarser for long rules, within bounds.
 */
function planStages(target: AlertTarget, slots: readonly Slot[], lookbackSec: number, minRangeSec: number | undefined): Stage[] {
  const baseSample = minRangeSec === undefined ? 15 : Math.max(1, Math.min(15, Math.floor(minRangeSec / 4)));
  const settleFor = (evalSec: number): number => lookbackSec + target.forSec + 2 * evalSec + 2 * baseSample;
  const stageFor = (name: Stage['name'], levels: Level[][], limit: number, spanOf: (settle: number) => number, evalPoints: number, skip?: (scenario: number[]) => boolean): Stage => {
    let evalSec = Math.max(1, Math.round(target.intervalSec));
    let spanSec = spanOf(settleFor(evalSec));
    if (spanSec / evalSec > MAX_TICKS) {
      evalSec = Math.ceil(spanSec / MAX_TICKS);
      spanSec = spanOf(settleFor(evalSec));
    }
    spanSec = Math.ceil(spanSec / evalSec) * evalSec;
    // Fewer samples keep promtool fast, but rate() needs two samples inside its shortest range,
    // and an instant selector sees a series only within 5 m (the lookback delta) of a sample.
    const rangeBound = minRangeSec === undefined ? MAX_SAMPLE_SEC : Math.max(1, Math.min(MAX_SAMPLE_SEC, Math.floor(minRangeSec / 3)));
    const sampleSec = Math.min(rangeBound, Math.max(baseSample, Math.ceil(spanSec / MAX_SAMPLES)));
    // promtool checks alerts at evaluation ticks: eval times are multiples of the interval.
    const first = Math.ceil(settleFor(evalSec) / evalSec) * evalSec;
    const evalTimes = Array.from({ length: evalPoints }, (_, i) => {
      const at = first + ((spanSec - first) * i) / Math.max(1, evalPoints - 1);
      return Math.min(spanSec, Math.ceil(at / evalSec) * evalSec);
    });
    const scenarios = designScenarios(
      levels.map((l) => l.length),
      limit,
    ).filter((scenario) => skip === undefined || !skip(scenario));
    return { name, levels, scenarios, sampleSec, evalSec, spanSec, evalTimesSec: [...new Set(evalTimes)] };
  };
  const steadyLevels = slots.map((slot) => [...STEADY_LEVELS[slot.kind], ...(slot.tryAbsent ? [ABSENT_LEVEL] : [])]);
  const steady = stageFor('steady', steadyLevels, STEADY_SCENARIO_LIMIT, (settle) => settle + 2 * Math.max(1, target.intervalSec), 3);
  if (slots.length === 0) return [steady];
  const sweepLevels = slots.map((slot, i) => [...(steadyLevels[i] ?? []), ...SWEEP_LEVELS[slot.kind]]);
  // Scenarios where every slot holds a steady level were the first stage's.
  const onlySteady = (scenario: number[]): boolean => scenario.every((level, i) => level < (steadyLevels[i]?.length ?? 0));
  const sweep = stageFor('sweep', sweepLevels, SWEEP_SCENARIO_LIMIT, (settle) => settle * SWEEP_SETTLES, 6, onlySteady);
  return [steady, sweep];
}

/** Scenarios per promtool run: small enough that a rule that fires stops the stage early. */
const SCENARIOS_PER_RUN = 32;
/** promtool runs at a time (this machine has two cores). */
const PARALLEL_RUNS = 2;

/**
 * Runs a stage's scenarios in chunks, PARALLEL_RUNS promtool processes at a time, and stops at
 * the first batch in which the alert fired (that answers the question) or promtool failed.
 */
async function runStage(target: AlertTarget, context: CheckContext, slots: readonly Slot[], stage: Stage, run: { promtool: string; workDir: string }, deadline: number): Promise<StageOutcome> {
  const dir = await mkdtemp(path.join(run.workDir, 'rule-'));
  const combined: StageOutcome = { fired: new Map(), evalErrors: [], unexpected: undefined, timedOut: false };
  try {
    await writeFile(path.join(dir, 'rules.yaml'), stringifyYaml(singleAlertRuleFile(target, context)));
    const chunks: number[][] = [];
    for (let first = 0; first < stage.scenarios.length; first += SCENARIOS_PER_RUN) {
      chunks.push(Array.from({ length: Math.min(SCENARIOS_PER_RUN, stage.scenarios.length - first) }, (_, i) => first + i));
    }
    for (let batch = 0; batch < chunks.length; batch += PARALLEL_RUNS) {
      // allSettled: if one run throws, the other still finishes before the directory goes.
      const settled = await Promise.allSettled(
        chunks.slice(batch, batch + PARALLEL_RUNS).map(async (chunk, i) => {
          const testName = `test-${batch + i}.yaml`;
          await writeFile(path.join(dir, testName), stringifyYaml(testFile(target, slots, stage, chunk)));
          const result = await runPromtool(run.promtool, ['test', 'rules', testName], dir, deadline - Date.now());
          return result.timedOut ? { fired: new Map<number, string[]>(), evalErrors: [], unexpected: undefined, timedOut: true } : interpretTestOutput(result);
        }),
      );
      const failure = settled.find((outcome) => outcome.status === 'rejected');
      if (failure !== undefined) throw failure.reason;
      for (const outcome of settled.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []))) {
        for (const [scenario, where] of outcome.fired) combined.fired.set(scenario, where);
        combined.evalErrors.push(...outcome.evalErrors);
        combined.unexpected ??= outcome.unexpected;
        combined.timedOut ||= outcome.timedOut;
      }
      if (combined.fired.size > 0 || combined.unexpected !== undefined || combined.timedOut) break;
    }
    return combined;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The recording rules (inputs the alert may read) and the one alerting rule, each in its own group. */
function singleAlertRuleFile(target: AlertTarget, context: CheckContext): Record<string, unknown> {
  const groups: Record<string, unknown>[] = [];
  for (const group of context.file.groups) {
    const rules = group.rules.filter((rule, index) => rule.record !== undefined || (group === target.group && index === target.index)).map((rule) => rule.raw);
    if (rules.length > 0) groups.push({ ...group.raw, rules });
  }
  return { groups };
}

/** A promtool test file with one test group per scenario (numbered as in the stage), each expecting no alert. */
function testFile(target: AlertTarget, slots: readonly Slot[], stage: Stage, scenarioNumbers: readonly number[]): Record<string, unknown> {
  const samples = Math.floor(stage.spanSec / stage.sampleSec) + 2;
  const alertName = JSON.stringify(target.alert);
  const tests = scenarioNumbers.map((index) => ({ index, scenario: stage.scenarios[index] ?? [] })).map(({ index, scenario }) => ({
    name: `scenario-${index}`,
    interval: `${stage.sampleSec}s`,
    input_series: slots.flatMap((slot, slotIndex) => {
      const level = stage.levels[slotIndex]?.[scenario[slotIndex] ?? 0] ?? ABSENT_LEVEL;
      return slot.series.map((series) => ({ series: seriesText(series), values: level.render(series, samples, stage.sampleSec) }));
    }),
    alert_rule_test: stage.evalTimesSec.map((at) => ({ eval_time: `${at}s`, alertname: target.alert, exp_alerts: [] })),
    // alert_rule_test looks at a few instants; ALERTS keeps every evaluation, so firing between
    // them is seen too. The scenario number is added as a label because promtool does not print
    // the test's name for expression tests.
    promql_expr_test: [
      {
        expr: `label_replace(count_over_time(ALERTS{alertname=${alertName},alertstate="firing"}[${stage.spanSec + stage.evalSec}s]), "scenario", "${index}", "", "")`,
        eval_time: `${stage.spanSec}s`,
        exp_samples: [],
      },
    ],
  }));
  return { rule_files: ['rules.yaml'], evaluation_interval: `${stage.evalSec}s`, tests };
}

/**
 * promtool test rules (2.42) prints failures on stderr:
 *   `    name: scenario-3,` / `    alertname: X, time: 11m, ` / `exp:[]` / `got:[ …labels… ]` — the alert was firing;
 *   `    expr: "label_replace(…)", time: 2h,` / `exp: nil` / `got: {…, scenario="3", …} 6E+00` — it fired 6 times;
 *   `    rule: X, time: 0s, err: …` — evaluating a rule failed (that test group stops there).
 * Anything else means the test file or the rules could not be loaded.
 */
export function interpretTestOutput(result: { exitCode: number | undefined; output: string }): StageOutcome {
  const fired = new Map<number, string[]>();
  const evalErrors: string[] = [];
  const record = (scenario: number, what: string): void => {
    fired.set(scenario, [...(fired.get(scenario) ?? []), what]);
  };
  let scenario: number | undefined;
  const unexplained: string[] = [];
  for (const line of result.output.split('\n')) {
    const trimmed = line.trim();
    const name = /^name: scenario-(\d+),$/.exec(trimmed);
    const alert = /^alertname: .*, time: (\S+),$/.exec(trimmed);
    const got = /^got: \{.*scenario="(\d+)".*\} (\S+)$/.exec(trimmed);
    const evalError = /^rule: (.*?), time: (\S+), err: (.*)$/.exec(trimmed);
    if (name !== null) scenario = Number(name[1]);
    else if (alert !== null && scenario !== undefined) record(scenario, `at ${alert[1]}`);
    else if (got !== null) record(Number(got[1]), `${Number(got[2])} evaluations`);
    else if (evalError !== null) evalErrors.push(`at ${evalError[2]}: ${evalError[3]}`);
    else if (!isKnownOutputLine(trimmed)) unexplained.push(trimmed);
  }
  const unexpected = result.exitCode !== 0 && fired.size === 0 && evalErrors.length === 0 ? unique(unexplained).slice(0, 5).join(' | ') || `exit code ${result.exitCode}` : undefined;
  return { fired, evalErrors, unexpected, timedOut: false };
}

function isKnownOutputLine(line: string): boolean {
  return line === '' || line === 'FAILED:' || line === 'SUCCESS' || line.startsWith('Unit Testing:') || /^(?:exp|got):/.test(line) || /^\d+:$/.test(line) || /^(?:Labels|Annotations):/.test(line) || line === ']' || line.startsWith('expr: ');
}

// ---- explaining "never fires" --------------------------------------------------------------

const ARITHMETIC_OR_COMPARISON = new Set(['Div', 'Mul', 'Add', 'Sub', 'Mod', 'Pow', 'Gtr', 'Lss', 'Gte', 'Lte', 'Eql', 'Neq', 'And']);
const LABEL_PRESERVING_FUNCTIONS = new Set([
  'Rate', 'Irate', 'Increase', 'Delta', 'Idelta', 'Deriv', 'PredictLinear', 'Resets', 'Changes', 'Abs', 'Ceil', 'Floor', 'Round', 'Clamp', 'ClampMax', 'ClampMin', 'Sqrt', 'Exp', 'Ln', 'Log2', 'Log10',
  'AvgOverTime', 'MinOverTime', 'MaxOverTime', 'SumOverTime', 'CountOverTime', 'LastOverTime', 'QuantileOverTime', 'StddevOverTime', 'StdvarOverTime', 'PresentOverTime', 'Sort', 'SortDesc',
]);

/**
 * One-to-one vector matching (`a / b` without on/ignoring) needs identical label sets on both
 * sides; where the synthesized series show they differ, say which labels, as the seed's
 * numbackends / max_connections division needed.
 */
function labelMismatchHints(root: SyntaxNode, expr: string, seriesOf: Map<string, Series>): string[] {
  const hints: string[] = [];
  /** Label names of the series a subexpression returns; 'scalar' for a number; undefined when unknown. */
  const labelsOf = (node: SyntaxNode | null): Set<string> | 'scalar' | undefined => {
    if (node === null) return undefined;
    switch (node.name) {
      case 'NumberDurationLiteral':
        return 'scalar';
      case 'ParenExpr':
      case 'OffsetExpr':
      case 'SubqueryExpr':
        return labelsOf(node.firstChild);
      case 'MatrixSelector':
        return labelsOf(node.getChild('VectorSelector'));
      case 'VectorSelector': {
        const series = seriesOf.get(nodeKey(node));
        return series === undefined ? undefined : new Set(Object.keys(series.labels));
      }
      case 'FunctionCall': {
        const fn = node.getChild('FunctionIdentifier')?.firstChild?.name ?? '';
        const body = node.getChild('FunctionCallBody');
        if (body === null || !(LABEL_PRESERVING_FUNCTIONS.has(fn) || fn === 'HistogramQuantile')) return undefined;
        let argument: SyntaxNode | null = body.firstChild;
        while (argument !== null && argument.name === 'NumberDurationLiteral') argument = argument.nextSibling;
        const labels = labelsOf(argument);
        if (fn === 'HistogramQuantile' && labels instanceof Set) labels.delete('le');
        return labels;
      }
      case 'AggregateExpr': {
        const modifier = node.getChild('AggregateModifier');
        if (modifier === null) return new Set();
        const names = modifier.getChild('GroupingLabels')?.getChildren('LabelName').map((label) => expr.slice(label.from, label.to)) ?? [];
        return modifier.getChild('By') !== null ? new Set(names) : undefined;
      }
      case 'BinaryExpr': {
        const left = labelsOf(node.firstChild);
        const right = labelsOf(node.lastChild);
        if (left === 'scalar') return right;
        if (right === 'scalar') return left;
        return node.getChild('MatchingModifierClause') === null ? left : undefined;
      }
      default:
        return undefined;
    }
  };
  const visit = (node: SyntaxNode): void => {
    if (node.name === 'BinaryExpr' && node.getChild('MatchingModifierClause') === null) {
      const opNode = node.firstChild?.nextSibling;
      const left = labelsOf(node.firstChild);
      const right = labelsOf(node.lastChild);
      if (opNode !== null && opNode !== undefined && ARITHMETIC_OR_COMPARISON.has(opNode.name) && left instanceof Set && right instanceof Set) {
        const onlyLeft = [...left].filter((label) => !right.has(label));
        const onlyRight = [...right].filter((label) => !left.has(label));
        if (onlyLeft.length > 0 || onlyRight.length > 0) {
          const side = (n: SyntaxNode | null): string => (n === null ? '' : expr.slice(n.from, n.to).replace(/\s+/g, ' ').trim());
          const differences = [onlyLeft.length > 0 ? `only the left side has ${onlyLeft.join(', ')}` : '', onlyRight.length > 0 ? `only the right side has ${onlyRight.join(', ')}` : ''].filter((part) => part !== '');
          hints.push(`"${expr.slice(opNode.from, opNode.to)}" matches series one-to-one on all their labels, but "${side(node.firstChild)}" and "${side(node.lastChild)}" carry different labels (${differences.join('; ')}), so it matches nothing; aggregate both sides to common labels or use on(…)`);
        }
      }
    }
    for (let child = node.firstChild; child !== null; child = child.nextSibling) visit(child);
  };
  visit(root);
  return hints;
}

// ---- static checks -------------------------------------------------------------------------

function staticFindings(target: AlertTarget): RuleFinding[] {
  const findings: RuleFinding[] = [];
  const finding = (severity: RuleFinding['severity'], problem: RuleProblem, detail: string): void => {
    findings.push({ group: target.group.name, alert: target.alert, severity, problem, detail });
  };
  if (target.forSec > 0 && target.forSec < target.intervalSec) {
    finding(
      'warning',
      'for shorter than the group interval',
      `for: ${target.rule.for} is shorter than the group's evaluation interval (${formatDuration(target.intervalSec)}): the condition is only seen once per interval, so the alert fires after ${formatDuration(target.intervalSec)} at the earliest, not ${target.rule.for}`,
    );
  }
  const expr = target.rule.expr;
  const tree = parser.parse(expr);
  const visit = (node: SyntaxNode): void => {
    if (node.name === 'BinaryExpr') {
      const comparison = ratioComparison(node, expr);
      if (comparison !== undefined) {
        const { op, bound, ratioText } = comparison;
        if (neverTrueForRatio(op, bound)) {
          finding('error', 'ratio compared with a bound it can never cross', `${ratioText} is a ratio of a subset to its whole (between 0 and 1), so comparing it with ${op} ${bound} can never be true`);
        } else if (alwaysTrueForRatio(op, bound)) {
          finding('warning', 'ratio comparison always true', `${ratioText} is a ratio of a subset to its whole (between 0 and 1), so comparing it with ${op} ${bound} is always true: the rule fires whenever the series exist`);
        }
      }
    }
    for (let child = node.firstChild; child !== null; child = child.nextSibling) visit(child);
  };
  visit(tree.topNode);
  return findings;
}

const COMPARISON_OPS: Record<string, string> = { Gtr: '>', Lss: '<', Gte: '>=', Lte: '<=', Eql: '==', Neq: '!=' };
const FLIPPED: Record<string, string> = { '>': '<', '<': '>', '>=': '<=', '<=': '>=', '==': '==', '!=': '!=' };

/** `ratio OP number` (or `number OP ratio`, flipped) without `bool`; undefined otherwise. */
function ratioComparison(node: SyntaxNode, expr: string): { op: string; bound: number; ratioText: string } | undefined {
  const left = node.firstChild;
  const opNode = left?.nextSibling;
  const right = node.lastChild;
  if (left === null || opNode === null || opNode === undefined || right === null || node.getChild('BoolModifier') !== null) return undefined;
  const op = COMPARISON_OPS[opNode.name];
  if (op === undefined) return undefined;
  const text = (n: SyntaxNode): string => expr.slice(n.from, n.to).replace(/\s+/g, ' ').trim();
  const numberOf = (n: SyntaxNode): number | undefined => (n.name === 'NumberDurationLiteral' ? Number(text(n)) : n.name === 'ParenExpr' && n.firstChild !== null ? numberOf(n.firstChild) : undefined);
  const rightNumber = numberOf(right);
  const leftNumber = numberOf(left);
  if (rightNumber !== undefined && !Number.isNaN(rightNumber) && isRatio(left, expr)) return { op, bound: rightNumber, ratioText: text(left) };
  if (leftNumber !== undefined && !Number.isNaN(leftNumber) && isRatio(right, expr)) return { op: FLIPPED[op] ?? op, bound: leftNumber, ratioText: text(right) };
  return undefined;
}

function neverTrueForRatio(op: string, bound: number): boolean {
  return (op === '>' && bound >= 1) || (op === '>=' && bound > 1) || (op === '<' && bound <= 0) || (op === '<=' && bound < 0) || (op === '==' && (bound < 0 || bound > 1));
}

function alwaysTrueForRatio(op: string, bound: number): boolean {
  return (op === '>' && bound < 0) || (op === '>=' && bound <= 0) || (op === '<' && bound > 1) || (op === '<=' && bound >= 1) || (op === '!=' && (bound < 0 || bound > 1));
}

const COUNTING_FUNCTIONS = new Set(['rate', 'irate', 'increase', 'sum', 'count']);

/**
 * A value between 0 and 1 by construction: `x{subset} / x` with the same counting functions
 * (sum, count, rate, increase) on both sides, the numerator's matchers a superset of the
 * denominator's (so its series are a subset of them), optionally with the denominator filtered
 * by `> 0`; or a `_ratio` metric.
 */
function isRatio(node: SyntaxNode, expr: string): boolean {
  if (node.name === 'ParenExpr') return node.firstChild !== null && isRatio(node.firstChild, expr);
  if (node.name === 'VectorSelector') return (node.getChild('Identifier') !== null && /_ratio$/.test(expr.slice(node.from, node.to).split('{')[0] ?? ''));
  if (node.name !== 'BinaryExpr' || node.firstChild?.nextSibling?.name !== 'Div' || node.getChild('MatchingModifierClause') !== null) return false;
  const numerator = node.firstChild;
  const denominator = stripPositiveFilter(node.lastChild, expr);
  if (numerator === null || denominator === null) return false;
  const shapeOf = (n: SyntaxNode): { shape: string; selectors: SelectorUse[]; functions: string[] } => {
    const text = expr.slice(n.from, n.to);
    const facts = analyzeExpression(text);
    let shape = text;
    for (const selector of [...facts.selectors].sort((a, b) => b.node.from - a.node.from)) shape = `${shape.slice(0, selector.node.from)}${selector.metric}${shape.slice(selector.node.to)}`;
    const functions: string[] = [];
    facts.root.cursor().iterate((ref) => {
      if (ref.name === 'FunctionIdentifier' || ref.name === 'AggregateOp') functions.push(text.slice(ref.from, ref.to));
    });
    return { shape: shape.replace(/\s+/g, ''), selectors: facts.selectors, functions };
  };
  const top = shapeOf(numerator);
  const bottom = shapeOf(denominator);
  if (top.shape !== bottom.shape || top.selectors.length === 0 || top.selectors.length !== bottom.selectors.length) return false;
  if (!top.functions.every((fn) => COUNTING_FUNCTIONS.has(fn)) || top.functions.length === 0) return false;
  return top.selectors.every((selector, i) => {
    const whole = bottom.selectors[i];
    if (whole === undefined || whole.metric !== selector.metric) return false;
    const key = (m: Matcher): string => `${m.label}${m.op}${m.value}`;
    const subsetMatchers = new Set(selector.matchers.map(key));
    return whole.matchers.every((m) => subsetMatchers.has(key(m)));
  });
}

/** `(x > 0)` and `x > 0` guard a denominator against zero; they do not change what it counts. */
function stripPositiveFilter(node: SyntaxNode | null, expr: string): SyntaxNode | null {
  if (node === null) return null;
  if (node.name === 'ParenExpr' && node.firstChild?.name === 'BinaryExpr') {
    const inner = stripPositiveFilter(node.firstChild, expr);
    return inner === node.firstChild ? node : inner;
  }
  if (node.name === 'BinaryExpr' && node.getChild('BoolModifier') === null) {
    const op = node.firstChild?.nextSibling?.name;
    const right = node.lastChild;
    if ((op === 'Gtr' || op === 'Neq') && right?.name === 'NumberDurationLiteral' && Number(expr.slice(right.from, right.to)) === 0) return node.firstChild;
  }
  return node;
}
