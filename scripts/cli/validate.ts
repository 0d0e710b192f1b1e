import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { checkAlertRules, PromtoolUnavailableError, type RuleFinding } from '../../slo/rule-check.ts';
import { ExitCode, type ExitCodeValue } from '../exit-codes.ts';
import { formatFindings, hasFailures, validateManifests, type ManifestFinding } from '../../cluster/validate/index.ts';

export interface ValidateReport {
  /** Rule files checked, with what was found in each. */
  checked: { file: string; findings: RuleFinding[] }[];
  /** Findings in Kubernetes manifests (every YAML file that is not a rule file). */
  manifests: ManifestFinding[];
  /** YAML files that are not Prometheus rule files (checked as manifests). */
  skipped: string[];
  exitCode: ExitCodeValue;
}

/**
 * `resilience validate [paths…]`: checks Prometheus rule files (YAML with top-level `groups`:
 * promtool, and alerts that can never fire on realistic series) and Kubernetes manifests (schemas,
 * API versions, Pod Security, quotas, disruption budgets, references). Exit 2 on errors (and on
 * warnings with `strict`), 4 without promtool or kubectl.
 */
export async function validatePaths(paths: readonly string[], options: { strict?: boolean } = {}): Promise<ValidateReport> {
  const files = paths.flatMap((p) => yamlFiles(path.resolve(p)));
  const report: ValidateReport = { checked: [], manifests: [], skipped: [], exitCode: ExitCode.Pass };
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
  try {
    report.manifests = await validateManifests(paths, { strict: options.strict ?? false });
  } catch (error) {
    // kubectl is needed to build a kustomization; without it the manifests cannot be judged.
    if (/kubectl/i.test((error as Error).message)) return { ...report, exitCode: ExitCode.Environment };
    throw error;
  }
  const findings = report.checked.flatMap((c) => c.findings);
  const failing = findings.filter((f) => f.severity === 'error' || options.strict);
  report.exitCode = failing.length > 0 || hasFailures(report.manifests, { strict: options.strict ?? false }) ? ExitCode.InvalidConfig : ExitCode.Pass;
  return report;
}

export function formatValidateReport(report: ValidateReport, cwd = process.cwd()): string {
  const lines: string[] = [];
  for (const { file, findings } of report.checked) {
    const name = path.relative(cwd, file) || file;
    if (findings.length === 0) lines.push(`✔ ${name}: every alert can fire, no problem found`);
    for (const f of findings) lines.push(`${f.severity === 'error' ? '✖' : '⚠'} ${name}: group ${f.group}, alert ${f.alert}: ${f.problem}\n    ${f.detail.split('\n').join('\n    ')}`);
  }
  if (report.manifests.length > 0) lines.push(formatFindings(report.manifests, cwd));
  else if (report.skipped.length > 0) lines.push(`✔ ${report.skipped.length} manifest file(s): no problem found`);
  if (report.checked.length === 0 && report.skipped.length === 0) lines.push('no rule file or manifest found in the given paths');
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
