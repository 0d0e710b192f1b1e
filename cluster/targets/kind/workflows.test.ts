import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';

// The CI workflows that run the kind target, parsed as YAML (GitHub Actions' own format) and
// checked for what a nightly run and a release gate rely on. They cannot run here.

interface Step {
  name?: string;
  id?: string;
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
}
interface Workflow {
  name: string;
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  jobs: Record<string, { 'runs-on': string; 'timeout-minutes'?: number; steps: Step[] }>;
}

function load(file: string): Workflow {
  return parse(readFileSync(new URL(`../../../.github/workflows/${file}`, import.meta.url), 'utf8')) as Workflow;
}

function onlyJob(workflow: Workflow): { 'runs-on': string; 'timeout-minutes'?: number; steps: Step[] } {
  const jobs = Object.values(workflow.jobs);
  expect(jobs).toHaveLength(1);
  return jobs[0] as { 'runs-on': string; steps: Step[] };
}

const indexOf = (steps: Step[], predicate: (s: Step) => boolean, what: string): number => {
  const i = steps.findIndex(predicate);
  expect(i, `a step that ${what}`).toBeGreaterThanOrEqual(0);
  return i;
};

describe('nightly-resilience.yml', () => {
  const workflow = load('nightly-resilience.yml');
  const job = onlyJob(workflow);
  const steps = job.steps;

  it('runs on a schedule (and by hand) on an Ubuntu runner, read-only, with a timeout', () => {
    const schedule = workflow.on.schedule as { cron: string }[];
    expect(schedule[0]?.cron).toMatch(/^\S+ \S+ \* \* \*$/);
    expect(Object.keys(workflow.on)).toContain('workflow_dispatch');
    expect(job['runs-on']).toMatch(/^ubuntu-/);
    expect(workflow.permissions).toEqual({ contents: 'read' });
    expect(job['timeout-minutes']).toBeGreaterThan(0);
  });

  it('installs kind (binary only) and k6 with their official actions, then npm ci, then runs chaos:nightly', () => {
    const kind = indexOf(steps, (s) => s.uses?.startsWith('helm/kind-action@') === true, 'installs kind');
    expect(steps[kind]?.with).toMatchObject({ install_only: true });
    expect(String(steps[kind]?.with?.version)).toMatch(/^v\d+\.\d+\.\d+$/);
    const k6 = indexOf(steps, (s) => s.uses?.startsWith('grafana/setup-k6-action@') === true, 'installs k6');
    const ci = indexOf(steps, (s) => s.run?.trim().startsWith('npm ci') === true, 'runs npm ci');
    const run = indexOf(steps, (s) => s.run?.trim() === 'npm run chaos:nightly', 'runs npm run chaos:nightly');
    expect(Math.max(kind, k6, ci)).toBeLessThan(run);
  });

  it('uploads reports/runs/** and appends summary.md to the step summary, also when the run fails', () => {
    const run = indexOf(steps, (s) => s.run?.trim() === 'npm run chaos:nightly', 'runs the suite');
    const upload = indexOf(steps, (s) => s.uses?.startsWith('actions/upload-artifact@') === true, 'uploads the reports');
    expect(steps[upload]?.with?.path).toBe('reports/runs/**');
    expect(steps[upload]?.if).toBe('always()');
    const summary = indexOf(steps, (s) => s.run?.includes('$GITHUB_STEP_SUMMARY') === true, 'writes the step summary');
    expect(steps[summary]?.run).toMatch(/reports\/runs\/\*\/summary\.md[\s\S]*>> "\$GITHUB_STEP_SUMMARY"/);
    expect(steps[summary]?.if).toBe('always()');
    expect(Math.min(upload, summary)).toBeGreaterThan(run);
  });

  it('always tears the kind cluster down last', () => {
    expect(steps.at(-1)).toMatchObject({ run: 'npx resilience cluster down', if: 'always()' });
  });
});

describe('release-gate.yml', () => {
  const workflow = load('release-gate.yml');
  const steps = onlyJob(workflow).steps;

  it('runs on release pull requests and release tags', () => {
    expect((workflow.on.pull_request as { branches: string[] }).branches).toEqual(['release/**']);
    expect((workflow.on.push as { tags: string[] }).tags).toEqual(['v*']);
  });

  it('runs the suite, then gates on the last 5 runs of the history, unless the run was skipped or cancelled', () => {
    const history = indexOf(steps, (s) => s.uses?.startsWith('actions/cache/restore@') === true, 'restores the run history');
    expect(steps[history]?.with?.path).toBe('reports/history');
    const run = indexOf(steps, (s) => s.run?.trim() === 'npm run chaos:nightly', 'runs the suite');
    const gate = indexOf(steps, (s) => s.run?.includes('resilience gate') === true, 'runs resilience gate');
    expect(steps[gate]?.run?.trim()).toBe('npx resilience gate --baseline reports/history --last 5');
    expect(history).toBeLessThan(run);
    expect(gate).toBeGreaterThan(run);
    expect(steps[gate]?.if).toContain('!cancelled()');
  });

  it('keeps the reports and tears the cluster down whatever happened', () => {
    const upload = steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'));
    expect(upload).toMatchObject({ if: 'always()', with: { path: 'reports/runs/**' } });
    expect(steps.at(-1)).toMatchObject({ run: 'npx resilience cluster down', if: 'always()' });
  });
});
