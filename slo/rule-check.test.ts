import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { checkAlertRules, designScenarios, interpretTestOutput, parseDurationSeconds, PromtoolUnavailableError, regexExamples } from './rule-check.ts';
import type { RuleFinding } from './rule-check.ts';

// Every check runs the real promtool (Prometheus 2.42) on the fixtures in testing/rules/ and on
// the project's own alert rules.
const here = path.dirname(fileURLToPath(import.meta.url));
const fixture = (name: string): string => path.join(here, 'testing', 'rules', name);
const projectRules = path.join(here, '..', 'cluster', 'addons', 'prometheus', 'hastecrm-alerts.yaml');

const byAlert = (findings: RuleFinding[], alert: string): RuleFinding[] => findings.filter((f) => f.alert === alert);

let scratch: string;
/** Every check here works under this directory, so the test can see that each cleaned up. */
let workArea: string;
const options = (): { tempDir: string } => ({ tempDir: workArea });

beforeAll(async () => {
  scratch = await mkdtemp(path.join(tmpdir(), 'rule-check-test-'));
  workArea = path.join(scratch, 'work');
  await mkdir(workArea);
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe("the seed's original alert rules (section 10a)", () => {
  let findings: RuleFinding[];
  beforeAll(async () => {
    findings = await checkAlertRules(fixture('seed-original-alerts.yaml'), options());
  });

  it('reports DatabaseConnectionPoolExhausted as never firing, and says why', () => {
    const [finding, ...more] = byAlert(findings, 'DatabaseConnectionPoolExhausted');
    expect(more).toEqual([]);
    expect(finding).toMatchObject({ group: 'hastecrm-critical', severity: 'error', problem: 'never fires on realistic series' });
    // The series it tried carry postgres_exporter's labels, and the cause is named.
    expect(finding?.detail).toContain('pg_stat_database_numbackends{datid="16384",datname="crm_production",instance="postgres-exporter:9187",job="postgres"}');
    expect(finding?.detail).toContain('pg_settings_max_connections{instance="postgres-exporter:9187",job="postgres"}');
    expect(finding?.detail).toContain('only the left side has datid, datname');
    expect(finding?.detail).toMatch(/never fired in 9 steady scenarios .*then in \d+ sweep scenarios/);
  });

  it('does not report the rules that can fire (APIHighErrorRate, PodMemoryUsageHigh, PersistentVolumeSpaceLow)', () => {
    expect(findings.filter((f) => f.alert !== 'DatabaseConnectionPoolExhausted')).toEqual([]);
  });
});

describe("the project's fixed rules (cluster/addons/prometheus/hastecrm-alerts.yaml)", () => {
  it('has no findings: every rule can fire on realistic series', async () => {
    const findings = await checkAlertRules(projectRules, options());
    expect(findings.filter((f) => f.problem === 'never fires on realistic series')).toEqual([]);
    expect(findings).toEqual([]);
  });
});

describe('rules that can fire only under particular series', () => {
  it('reports none of them (absent series, recording rule, slow buckets, target down, a narrow band, an unknown metric)', async () => {
    const findings = await checkAlertRules(fixture('can-fire.yaml'), options());
    expect(findings).toEqual([]);
  });
});

describe('a rule file with a syntax error', () => {
  it('reports promtool check rules’ error, located, and checks nothing further', async () => {
    const findings = await checkAlertRules(fixture('broken-syntax.yaml'), options());
    expect(findings).toEqual([
      {
        group: 'broken',
        alert: 'UnclosedParenthesis',
        severity: 'error',
        problem: 'invalid rule file',
        detail: expect.stringContaining('unclosed left parenthesis') as string,
      },
    ]);
  });

  it('reports a file that does not exist as invalid', async () => {
    const findings = await checkAlertRules(path.join(scratch, 'missing.yaml'), options());
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ group: '', alert: '', severity: 'error', problem: 'invalid rule file' });
    expect(findings[0]?.detail).toContain('does not exist');
  });

  it('reports YAML promtool cannot read', async () => {
    const file = path.join(scratch, 'bad-yaml.yaml');
    await writeFile(file, 'groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n     for: 5m\n');
    const findings = await checkAlertRules(file, options());
    expect(findings.length).toBeGreaterThan(0);
    expect(findings.every((f) => f.problem === 'invalid rule file' && f.severity === 'error')).toBe(true);
    expect(findings[0]?.detail).toContain('yaml');
  });
});

describe('a ratio compared with > 1.5', () => {
  it('is reported statically (a ratio never exceeds 1) and as never firing', async () => {
    const findings = await checkAlertRules(fixture('ratio-above-one.yaml'), options());
    const problems = findings.map((f) => [f.alert, f.severity, f.problem]);
    expect(problems).toEqual([
      ['APIErrorRatioAboveOneAndAHalf', 'error', 'ratio compared with a bound it can never cross'],
      ['APIErrorRatioAboveOneAndAHalf', 'error', 'never fires on realistic series'],
    ]);
    expect(findings[0]?.detail).toContain('> 1.5 can never be true');
    // Both http_requests_total series were tried: a 5xx one and one the numerator does not read.
    expect(findings[1]?.detail).toContain('status="500"');
    expect(findings[1]?.detail).toContain('status="200"');
  });
});

describe('suspicious rules', () => {
  let findings: RuleFinding[];
  beforeAll(async () => {
    findings = await checkAlertRules(fixture('suspicious.yaml'), options());
  });

  it('warns when for is shorter than the group interval (and the rule itself can fire)', () => {
    expect(byAlert(findings, 'ForShorterThanInterval').map((f) => [f.severity, f.problem])).toEqual([['warning', 'for shorter than the group interval']]);
  });

  it('warns about a ratio comparison that is always true', () => {
    expect(byAlert(findings, 'SuccessRatioAlwaysTrue').map((f) => [f.severity, f.problem])).toEqual([['warning', 'ratio comparison always true']]);
  });

  it("reports Prometheus's evaluation error on realistic cAdvisor series (pause container, pod cgroup)", () => {
    const [finding, ...more] = byAlert(findings, 'MemoryNearLimitManyToOne');
    expect(more).toEqual([]);
    expect(finding).toMatchObject({ severity: 'error', problem: 'fails to evaluate on realistic series' });
    expect(finding?.detail).toContain('many-to-one matching must be explicit');
    expect(finding?.detail).toContain('container="POD"');
  });

  it('follows recording rules to their inputs: the seed division behind a recorded series never fires', () => {
    const [finding, ...more] = byAlert(findings, 'PoolExhaustedViaRecordingRule');
    expect(more).toEqual([]);
    expect(finding).toMatchObject({ severity: 'error', problem: 'never fires on realistic series' });
    expect(finding?.detail).toContain('pg_stat_database_numbackends{datid="16384",datname="crm_production"');
  });

  it('reports never firing on metrics the table does not know as a warning only', () => {
    const [finding, ...more] = byAlert(findings, 'UnknownMetricsLabelMismatch');
    expect(more).toEqual([]);
    expect(finding).toMatchObject({ severity: 'warning', problem: 'never fires on realistic series' });
    expect(finding?.detail).toContain('labels guessed');
    expect(finding?.detail).toContain('only the left side has queue');
  });
});

describe('fail closed', () => {
  it('reports every rule as not checked when promtool runs out of time', async () => {
    const findings = await checkAlertRules(fixture('seed-original-alerts.yaml'), { ...options(), timeoutMs: 1 });
    expect(findings.map((f) => [f.alert, f.severity, f.problem])).toEqual([
      ['APIHighErrorRate', 'error', 'could not be checked'],
      ['DatabaseConnectionPoolExhausted', 'error', 'could not be checked'],
      ['PodMemoryUsageHigh', 'error', 'could not be checked'],
      ['PersistentVolumeSpaceLow', 'error', 'could not be checked'],
    ]);
    expect(findings[0]?.detail).toContain('did not finish within 1 ms');
  });

  it('rejects when promtool cannot be started', async () => {
    await expect(checkAlertRules(fixture('seed-original-alerts.yaml'), { promtool: path.join(scratch, 'no-such-promtool') })).rejects.toBeInstanceOf(PromtoolUnavailableError);
  });

  it('rejects an invalid default interval', async () => {
    await expect(checkAlertRules(fixture('seed-original-alerts.yaml'), { defaultInterval: 'soon' })).rejects.toThrow('invalid defaultInterval');
  });

  it('says a rule could not be checked when no series can satisfy its selector', async () => {
    const file = path.join(scratch, 'unsatisfiable.yaml');
    await writeFile(file, 'groups:\n  - name: g\n    rules:\n      - alert: NoValidName\n        expr: \'{__name__=~"hastecrm-jobs"} > 0\'\n');
    const findings = await checkAlertRules(file, options());
    expect(findings).toEqual([{ group: 'g', alert: 'NoValidName', severity: 'warning', problem: 'could not be checked', detail: expect.stringContaining('no valid metric name matches it') as string }]);
  });

  it('treats promtool output it does not recognise as a failure, not as "did not fire"', async () => {
    // Real promtool output for a test file whose series cannot be loaded.
    const dir = path.join(scratch, 'unexpected');
    await mkdir(dir);
    await writeFile(path.join(dir, 'rules.yaml'), 'groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n');
    await writeFile(path.join(dir, 'test.yaml'), "rule_files: [rules.yaml]\ntests:\n  - interval: 15s\n    input_series:\n      - series: 'up{job=\"x\"}'\n        values: '1 one 1'\n    alert_rule_test:\n      - eval_time: 1m\n        alertname: A\n        exp_alerts: []\n");
    const result = await execa('promtool', ['test', 'rules', 'test.yaml'], { cwd: dir, reject: false, all: true });
    expect(result.exitCode).toBe(1);
    const outcome = interpretTestOutput({ exitCode: result.exitCode, output: result.all ?? '' });
    expect(outcome.fired.size).toBe(0);
    expect(outcome.unexpected).toContain('parse error');
  });

  it('left no temporary directory behind, also after killing promtool on a timeout', async () => {
    expect(await readdir(workArea)).toEqual([]);
  });
});

describe('helpers', () => {
  it('builds strings that regex matchers accept', () => {
    expect(regexExamples('5..')).toEqual(['500']);
    expect(regexExamples('4..|5..')).toEqual(['400', '500']);
    expect(regexExamples('/api/(contacts|deals)/.+')).toEqual(['/api/contacts/0']);
    expect(regexExamples('[a-z]+-[0-9]{3}')).toEqual(['a-000']);
    expect(regexExamples('(?i)get')).toEqual(['get']);
    expect(regexExamples('[^0-9]x?')).toEqual(['a']);
  });

  it('parses Prometheus durations', () => {
    expect(parseDurationSeconds('5m')).toBe(300);
    expect(parseDurationSeconds('1h30m')).toBe(5400);
    expect(parseDurationSeconds('500ms')).toBe(0.5);
    expect(parseDurationSeconds('soon')).toBeUndefined();
  });

  it('designs every combination when few, and a pairwise cover when many', () => {
    expect(designScenarios([2, 3], 100)).toHaveLength(6);
    expect(designScenarios([], 100)).toEqual([[]]);
    const levels = [5, 5, 5, 5, 5, 5];
    const scenarios = designScenarios(levels, 100);
    expect(scenarios.length).toBeLessThanOrEqual(100);
    for (let i = 0; i < levels.length; i++) {
      for (let j = i + 1; j < levels.length; j++) {
        for (let a = 0; a < 5; a++) for (let b = 0; b < 5; b++) expect(scenarios.some((s) => s[i] === a && s[j] === b), `slots ${i},${j} at ${a},${b}`).toBe(true);
      }
    }
  });
});
