import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { canaryGates, canaryVerdict, describeCanary, describeSloResult, formatSloValue } from './plain-text.ts';
import type { Reporter } from './reporter.ts';
import type { RunResult } from './result.ts';
import { xmlAttr, xmlText } from './xml.ts';
import type { ExperimentRecord } from '../chaos/types.ts';
import type { Phase, SloPhaseResult, Verdict } from '../slo/types.ts';

/**
 * `junit.xml`: the run as test results CI systems render and gate on (GitLab's test report,
 * GitHub test-reporter actions, Jenkins' JUnit plugin).
 *
 * Layout: one `<testsuite>` per phase ("api / pod-delete"), holding one `<testcase>` per SLO judged
 * in it and, in an experiment's phase, one for the experiment taking effect; a "run" suite with
 * what the verdict also rests on (the run completed, no critical breach, the load generator kept
 * up, cleanup); a "release analysis" suite for the canary replays when they gate the run.
 * `classname` is `resilience.<suite>.<phase>`: Jenkins splits it at dots into package and class,
 * giving suite → phase → SLO; GitLab and the GitHub actions show it next to the test name.
 *
 * The file never looks greener than the exit code: if the test cases do not account for the run's
 * verdict (e.g. no SLO was judged at all), a "run verdict" test case carries it.
 */
export const junitReporter: Reporter = {
  name: 'junit',
  async write(result, runDir) {
    const file = path.join(runDir, 'junit.xml');
    await writeFile(file, renderJunit(result));
    return file;
  },
};

type Outcome =
  | { kind: 'pass' }
  | { kind: 'failure'; type: string; message: string; body: string }
  | { kind: 'error'; type: string; message: string; body: string }
  | { kind: 'skipped'; message: string };

interface TestCase {
  name: string;
  classname: string;
  /** Seconds. */
  time: number;
  outcome: Outcome;
  systemOut?: string;
}

interface TestSuite {
  name: string;
  /** Epoch ms. */
  timestamp?: number;
  /** Seconds. */
  time: number;
  properties: [string, string][];
  cases: TestCase[];
}

export function renderJunit(result: RunResult): string {
  const suites = buildSuites(result);
  const all = suites.flatMap((s) => s.cases);
  const counts = countOutcomes(all);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${xmlAttr(`resilience ${result.suite} ${result.runId}`)}" tests="${all.length}" failures="${counts.failures}" errors="${counts.errors}" skipped="${counts.skipped}" time="${seconds(result.durationMs / 1000)}" timestamp="${junitTimestamp(Date.parse(result.startedAt))}">`,
    ...suites.map(renderSuite),
    '</testsuites>',
    '',
  ];
  return lines.join('\n');
}

function buildSuites(result: RunResult): TestSuite[] {
  const suites: TestSuite[] = [];
  const experimentsPlaced = new Set<ExperimentRecord>();
  const phaseNames = [...new Set([...result.phases.map((p) => p.name), ...result.slos.map((s) => s.phase)])];
  for (const phaseName of phaseNames) {
    const phase = result.phases.find((p) => p.name === phaseName);
    const classname = className(result.suite, phaseName);
    const cases = result.slos.filter((s) => s.phase === phaseName).map((s) => sloCase(s, classname));
    for (const x of result.experiments.filter((e) => e.name === phaseName)) {
      cases.push(experimentCase(x, classname));
      experimentsPlaced.add(x);
    }
    if (cases.length === 0) continue;
    suites.push({ name: `${result.suite} / ${phaseName}`, ...phaseTiming(phase), properties: phaseProperties(phase), cases });
  }
  const unplaced = result.experiments.filter((x) => !experimentsPlaced.has(x));
  if (unplaced.length > 0) {
    const classname = className(result.suite, 'experiments');
    suites.push({ name: `${result.suite} / experiments`, time: 0, properties: [], cases: unplaced.map((x) => experimentCase(x, classname)) });
  }
  if (canaryGates(result) && result.canary.length > 0) {
    const classname = className(result.suite, 'release-analysis');
    suites.push({ name: `${result.suite} / release analysis`, time: 0, properties: [], cases: result.canary.map((c) => canaryCase(c, classname)) });
  }
  const run = runSuite(result);
  const worstSoFar = worst([...suites.flatMap((s) => s.cases), ...run.cases].map((c) => outcomeVerdict(c.outcome)));
  if (rank(result.verdict) > rank(worstSoFar)) run.cases.push(verdictCase(result, className(result.suite, 'run')));
  suites.push(run);
  return suites;
}

function sloCase(s: SloPhaseResult, classname: string): TestCase {
  const outcome = sloOutcome(s);
  // A failure or error carries the evidence in its body; a passing case shows it as its output.
  return { name: s.slo, classname, time: s.windowSeconds, outcome, ...(outcome.kind === 'pass' || outcome.kind === 'skipped' ? { systemOut: evidence(s) } : {}) };
}

function sloOutcome(s: SloPhaseResult): Outcome {
  if (s.verdict === 'pass') return { kind: 'pass' };
  // A warning never fails the run (exit code 0), so it must not fail the build either; `skipped`
  // shows it, marked, without turning CI red behind a green exit code.
  if (s.severity === 'warning') return { kind: 'skipped', message: `report only (severity warning): ${s.verdict}: ${describeSloResult(s)}${s.reason ? `: ${s.reason}` : ''}` };
  if (s.verdict === 'fail') return { kind: 'failure', type: 'slo-failed', message: describeSloResult(s), body: evidence(s) };
  // Inconclusive is an <error>, not <skipped>: CI systems show skipped tests as neutral or green,
  // and "could not be judged" must never read as "fine". The run exits 3 for it; the report agrees.
  return { kind: 'error', type: 'inconclusive', message: `${s.slo} in ${s.phase} could not be judged: ${s.reason ?? 'no reason given'}`, body: evidence(s) };
}

/** What a reader needs to check the figure: the PromQL, its window and the samples behind it. */
function evidence(s: SloPhaseResult): string {
  return [
    `${describeSloResult(s)} [${s.verdict}]`,
    ...(s.reason ? [`why: ${s.reason}`] : []),
    `samples: ${s.samples}`,
    `window: ${s.windowSeconds} s ending ${isoOrRaw(s.evaluatedAt)}`,
    `side: ${s.side}, severity: ${s.severity}`,
    'value query:',
    s.queries.value,
    'samples query:',
    s.queries.samples,
  ].join('\n');
}

function experimentCase(x: ExperimentRecord, classname: string): TestCase {
  const actions = x.actions.map((a) => `${isoOrRaw(a.at)} ${a.action} ${a.target}: ${a.tookEffect ? (a.evidence ?? 'took effect') : 'not proven'}`).join('\n');
  const name = `${x.name} took effect`;
  const time = Math.max(0, (x.end - x.start) / 1000);
  if (x.tookEffect) return { name, classname, time, outcome: { kind: 'pass' }, systemOut: actions || 'no action recorded' };
  // The fault did not prove its effect, so its phase proves nothing: inconclusive, an <error> (see sloOutcome).
  return { name, classname, time, outcome: { kind: 'error', type: 'not-proven', message: `${x.name} did not prove its effect: ${x.reason ?? 'no evidence'}`, body: actions || 'no action recorded' } };
}

function canaryCase(c: RunResult['canary'][number], classname: string): TestCase {
  const name = `${c.tool} ${c.name}`;
  const verdict = canaryVerdict(c);
  const body = [c.reason, ...c.notes].join('\n');
  const message = `${describeCanary(c)}: ${c.reason}`;
  if (verdict === 'pass') return { name, classname, time: 0, outcome: { kind: 'pass' }, systemOut: body };
  if (verdict === 'fail') return { name, classname, time: 0, outcome: { kind: 'failure', type: 'release-rejected', message, body } };
  return { name, classname, time: 0, outcome: { kind: 'error', type: 'inconclusive', message, body } };
}

function runSuite(result: RunResult): TestSuite {
  const classname = className(result.suite, 'run');
  const cases: TestCase[] = [];
  cases.push({
    name: 'run completed',
    classname,
    time: result.durationMs / 1000,
    outcome: result.status === 'completed' ? { kind: 'pass' } : { kind: 'error', type: result.status, message: `run ${result.status}: ${result.reason}`, body: result.errors.join('\n') },
  });
  if (result.breach) {
    const b = result.breach;
    cases.push({ name: 'no critical SLO breached while the load ran', classname, time: 0, outcome: { kind: 'failure', type: 'slo-breached', message: `${b.slo} breached while the load ran, which was stopped early: ${formatSloValue(b)} (objective ${b.threshold})`, body: evidence(b) } });
  } else if (result.slos.some((s) => s.severity === 'critical')) {
    cases.push({ name: 'no critical SLO breached while the load ran', classname, time: 0, outcome: { kind: 'pass' } });
  }
  if (result.load) {
    const health = result.load.selfHealth;
    cases.push({
      name: 'load generator kept its rate',
      classname,
      time: result.load.durationMs / 1000,
      outcome: health.overloaded ? { kind: 'error', type: 'overloaded', message: `the load generator was the bottleneck: ${health.reason ?? 'overloaded'}`, body: `event-loop lag max ${health.maxEventLoopLagMs.toFixed(1)} ms, CPU ${(health.meanCpuUtilization * 100).toFixed(0)} %` } : { kind: 'pass' },
      systemOut: `${result.load.requests} of ${result.load.scheduled} scheduled requests, ${result.load.droppedIterations} dropped, ${result.load.achievedRatePerSec.toFixed(1)}/s of ${result.load.targetRate}/s`,
    });
  }
  // Exit code 5 is the only trace of a failed cleanup in the result; its details are in `errors`.
  const cleanupFailed = result.exitCode === 5;
  cases.push({
    name: 'cleanup left nothing behind',
    classname,
    time: 0,
    outcome: cleanupFailed ? { kind: 'error', type: 'cleanup-failed', message: 'cleanup failed: faults or processes may remain; run `resilience cleanup`', body: result.errors.join('\n') } : { kind: 'pass' },
  });
  return {
    name: `${result.suite} / run`,
    timestamp: Date.parse(result.startedAt),
    time: result.durationMs / 1000,
    properties: [
      ['run.id', result.runId],
      ['run.verdict', result.verdict],
      ['run.reason', result.reason],
      ['run.exitCode', String(result.exitCode)],
      ['run.startedAt', result.startedAt],
      ['git.commit', result.environment.gitCommit ?? 'unknown'],
      ['harness.version', result.environment.harnessVersion],
    ],
    cases,
  };
}

function verdictCase(result: RunResult, classname: string): TestCase {
  const outcome: Outcome =
    result.verdict === 'fail'
      ? { kind: 'failure', type: 'run-failed', message: result.reason, body: result.errors.join('\n') }
      : { kind: 'error', type: 'inconclusive', message: result.reason, body: result.errors.join('\n') };
  return { name: 'run verdict', classname, time: 0, outcome };
}

function renderSuite(suite: TestSuite): string {
  const counts = countOutcomes(suite.cases);
  const timestamp = suite.timestamp !== undefined && Number.isFinite(suite.timestamp) ? ` timestamp="${junitTimestamp(suite.timestamp)}"` : '';
  const properties = suite.properties.length
    ? `    <properties>\n${suite.properties.map(([k, v]) => `      <property name="${xmlAttr(k)}" value="${xmlAttr(v)}"/>`).join('\n')}\n    </properties>\n`
    : '';
  return `  <testsuite name="${xmlAttr(suite.name)}" tests="${suite.cases.length}" failures="${counts.failures}" errors="${counts.errors}" skipped="${counts.skipped}" time="${seconds(suite.time)}"${timestamp}>
${properties}${suite.cases.map(renderCase).join('\n')}
  </testsuite>`;
}

function renderCase(c: TestCase): string {
  const inner: string[] = [];
  const o = c.outcome;
  if (o.kind === 'failure' || o.kind === 'error') inner.push(`      <${o.kind} message="${xmlAttr(o.message)}" type="${xmlAttr(o.type)}">${xmlText(o.body)}</${o.kind}>`);
  if (o.kind === 'skipped') inner.push(`      <skipped message="${xmlAttr(o.message)}"/>`);
  if (c.systemOut) inner.push(`      <system-out>${xmlText(c.systemOut)}</system-out>`);
  const open = `    <testcase classname="${xmlAttr(c.classname)}" name="${xmlAttr(c.name)}" time="${seconds(c.time)}"`;
  return inner.length ? `${open}>\n${inner.join('\n')}\n    </testcase>` : `${open}/>`;
}

/** `resilience.<suite>.<phase>`, dots inside a name replaced so Jenkins does not split it there. */
function className(suite: string, phase: string): string {
  return ['resilience', suite, phase].map((part) => part.replaceAll('.', '_')).join('.');
}

function phaseTiming(phase: Phase | undefined): { timestamp?: number; time: number } {
  if (!phase) return { time: 0 };
  return { timestamp: phase.start, time: Math.max(0, (phase.end - phase.start) / 1000) };
}

function phaseProperties(phase: Phase | undefined): [string, string][] {
  if (!phase) return [];
  return [
    ['phase.kind', phase.kind],
    ['phase.start', isoOrRaw(phase.start)],
    ['phase.end', isoOrRaw(phase.end)],
  ];
}

function countOutcomes(cases: readonly TestCase[]): { failures: number; errors: number; skipped: number } {
  return {
    failures: cases.filter((c) => c.outcome.kind === 'failure').length,
    errors: cases.filter((c) => c.outcome.kind === 'error').length,
    skipped: cases.filter((c) => c.outcome.kind === 'skipped').length,
  };
}

function outcomeVerdict(o: Outcome): Verdict {
  return o.kind === 'failure' ? 'fail' : o.kind === 'error' ? 'inconclusive' : 'pass';
}

const RANK: Record<Verdict, number> = { pass: 0, inconclusive: 1, fail: 2 };

function rank(v: Verdict): number {
  return RANK[v];
}

function worst(verdicts: readonly Verdict[]): Verdict {
  return verdicts.reduce<Verdict>((w, v) => (rank(v) > rank(w) ? v : w), 'pass');
}

function seconds(s: number): string {
  return (Number.isFinite(s) ? Math.max(0, s) : 0).toFixed(3);
}

/** The Ant JUnit schema's timestamp: ISO 8601 without a zone (here always UTC). */
function junitTimestamp(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString().slice(0, 19) : '1970-01-01T00:00:00';
}

function isoOrRaw(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms);
}
