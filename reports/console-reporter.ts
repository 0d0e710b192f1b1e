import { existsSync } from 'node:fs';
import path from 'node:path';
import { canaryGates, canaryVerdict, describeCanary, formatSeconds, formatSloValue, recoveryVerdict, terminalSafe } from './plain-text.ts';
import type { Reporter } from './reporter.ts';
import type { RunResult } from './result.ts';

/** Where the console reporter prints: `process.stdout`, or anything with a `write`. */
export interface TextSink {
  write(text: string): unknown;
}

/** Failing and inconclusive checks listed one per line before "… and N more". */
const MAX_LISTED = 20;

/** The other views, in the order the summary names them. */
const VIEW_FILES = ['index.html', 'summary.md', 'junit.xml', 'grafana-dashboard.json', 'result.json'] as const;

/**
 * The end-of-run summary on the terminal: verdict and reason, the checks that failed or could not
 * be judged (with phase and reason), time to recover, the canary replays, and where the report
 * files are. Put it last in the reporter list, so that the files it names have been written.
 * Writes nothing to `runDir`; `write` returns `-` (standard output). Every string from the run is
 * printed with its control characters made visible (a label cannot recolour or retitle the terminal).
 */
export function consoleReporter(out: TextSink = process.stdout): Reporter {
  return {
    name: 'console',
    write(result, runDir) {
      out.write(renderConsoleSummary(result, runDir));
      return Promise.resolve('-');
    },
  };
}

export function renderConsoleSummary(r: RunResult, runDir: string): string {
  const t = terminalSafe;
  const lines: string[] = ['', `${r.verdict.toUpperCase()}: ${t(r.reason)}`];

  const problems: string[] = [];
  if (r.breach) problems.push(`✖ ${t(r.breach.slo)} breached while the load ran, which was stopped early: ${t(formatSloValue(r.breach))} (objective ${t(r.breach.threshold)})`);
  for (const s of r.slos) {
    if (s.verdict === 'pass') continue;
    const mark = s.severity === 'warning' ? '!' : s.verdict === 'fail' ? '✖' : '?';
    const figure = s.verdict === 'fail' ? `${formatSloValue(s)} (objective ${s.threshold})` : 'could not be judged';
    const warning = s.severity === 'warning' ? ' (warning, report only)' : '';
    problems.push(`${mark} ${t(s.slo)} [${t(s.phase)}] ${t(figure)}${warning}${s.reason ? `: ${t(s.reason)}` : ''}`);
  }
  for (const x of r.experiments) if (!x.tookEffect) problems.push(`? experiment ${t(x.name)} did not prove its effect: ${t(x.reason ?? 'no evidence')}`);
  if (r.load?.selfHealth.overloaded) problems.push(`? the load generator was the bottleneck: ${t(r.load.selfHealth.reason ?? 'overloaded')}`);
  lines.push(...problems.slice(0, MAX_LISTED).map((p) => `  ${p}`));
  if (problems.length > MAX_LISTED) lines.push(`  … and ${problems.length - MAX_LISTED} more (see the report)`);

  lines.push(...recoveryLines(r));
  const gates = canaryGates(r);
  for (const c of r.canary) {
    const mark = canaryVerdict(c) === 'pass' ? '✔' : canaryVerdict(c) === 'fail' ? '✖' : '?';
    lines.push(`canary: ${mark} ${t(describeCanary(c))}${gates ? '' : ' (report only)'}: ${t(c.reason)}`);
  }

  const present = VIEW_FILES.filter((f) => existsSync(path.join(runDir, f)));
  const [main, ...others] = present;
  lines.push(main ? `report: ${path.join(runDir, main)}` : `report folder: ${runDir}`);
  if (others.length) lines.push(`  also: ${others.join(', ')}`);
  lines.push(`exit code ${r.exitCode}`, '');
  return lines.join('\n');
}

/** One line per experiment: the SLOs that did not recover, the slowest recovery, how many were never degraded. */
function recoveryLines(r: RunResult): string[] {
  const byExperiment = new Map<string, RunResult['recovery']>();
  for (const x of r.recovery) byExperiment.set(x.experiment, [...(byExperiment.get(x.experiment) ?? []), x]);
  return [...byExperiment.entries()].map(([experiment, results]) => {
    const parts: string[] = [];
    for (const x of results) {
      const verdict = recoveryVerdict(x.status);
      if (verdict === 'fail') parts.push(`${terminalSafe(x.slo)} did not recover`);
      else if (verdict === 'inconclusive') parts.push(`${terminalSafe(x.slo)} unknown (${terminalSafe(x.reason)})`);
      else if (x.status === 'recovered' && x.ttrMs !== null) parts.push(`${terminalSafe(x.slo)} ${formatSeconds(x.ttrMs)}`);
    }
    const untouched = results.filter((x) => x.status === 'never-degraded').length;
    if (untouched > 0) parts.push(untouched === results.length ? `never degraded (${untouched} SLOs)` : `${untouched} never degraded`);
    return `time to recover after ${terminalSafe(experiment)}: ${parts.join('; ')}`;
  });
}
