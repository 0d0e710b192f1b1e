import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { checkAlertRules, PromtoolUnavailableError, type RuleFinding } from '../../slo/rule-check.ts';
import { ExitCode, type ExitCodeValue } from '../exit-codes.ts';

export interface ValidateReport {
  /** Rule files checked, with what was found in each. */
  checked: { file: string; findings: RuleFinding[] }[];
  /** YAML files that are not Prometheus rule files, left alone. */
  skipped: string[];
  exitCode: ExitCodeValue;
}

/**
 * `resilience validate [paths…]`: finds Prometheus rule files (YAML with top-level `groups`) in
 * the given files and folders and reports what is wrong with them, including alerts that can never
 * fire on realistic series. Exit 2 on errors (and on warnings with `strict`), 4 without promtool.
 */
export async function validatePaths(paths: readonly string[], options: { strict?: boolean } = {}): Promise<ValidateReport> {
  const files = paths.flatMap((p) => yamlFiles(path.resolve(p)));
  const report: ValidateReport = { checked: [], skipped: [], exitCode: ExitCode.Pass };
  for (const file of files) {
    if (!isRuleFile(file)) {
      report.skipped.push(file);
      continue;
    }
    try {
      report.checked.push({ file, findings: await checkAlertRules(file) });
    } catch (error) {
      if (error instanceof PromtoolUnavailableError) return { ...report, exitCode: ExitCode.Environment };
      throw error;
    }
  }
  const findings = report.checked.flatMap((c) => c.findings);
  const failing = findings.filter((f) => f.severity === 'error' || options.strict);
  report.exitCode = failing.length > 0 ? ExitCode.InvalidConfig : ExitCode.Pass;
  return report;
}

export function formatValidateReport(report: ValidateReport, cwd = process.cwd()): string {
  const lines: string[] = [];
  for (const { file, findings } of report.checked) {
    const name = path.relative(cwd, file) || file;
    if (findings.length === 0) lines.push(`✔ ${name}: every alert can fire, no problem found`);
    for (const f of findings) lines.push(`${f.severity === 'error' ? '✖' : '⚠'} ${name}: group ${f.group}, alert ${f.alert}: ${f.problem}\n    ${f.detail.split('\n').join('\n    ')}`);
  }
  if (report.checked.length === 0) lines.push('no Prometheus rule file found in the given paths');
  if (report.skipped.length > 0) lines.push(`(${report.skipped.length} other YAML file(s) are not rule files and were not checked)`);
  if (report.exitCode === ExitCode.Environment) lines.push('promtool is missing: apt-get install -y prometheus (promtool ships with it)');
  return lines.join('\n');
}

function yamlFiles(target: string): string[] {
  const stat = statSync(target, { throwIfNoEntry: false });
  if (!stat) throw new Error(`${target} does not exist`);
  if (stat.isFile()) return [target];
  return readdirSync(target, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => {
      const full = path.join(target, entry.name);
      if (entry.isDirectory()) return entry.name === 'node_modules' || entry.name.startsWith('.') ? [] : yamlFiles(full);
      return /\.ya?ml$/.test(entry.name) && !entry.name.endsWith('.test.yaml') ? [full] : [];
    });
}

function isRuleFile(file: string): boolean {
  try {
    const doc = parse(readFileSync(file, 'utf8')) as unknown;
    return doc !== null && typeof doc === 'object' && Array.isArray((doc as { groups?: unknown }).groups);
  } catch {
    // Not parseable as one YAML document (e.g. a multi-document manifest): not a rule file.
    return false;
  }
}
