import { describe, expect, it } from 'vitest';
import { decideRun, RunAbort, type DecisionInput } from './verdict.ts';
import { ExitCode } from '../exit-codes.ts';
import type { SloPhaseResult } from '../../slo/types.ts';
import type { LoadSummary } from '../../scenarios/engine/results.ts';

const result = (overrides: Partial<SloPhaseResult> = {}): SloPhaseResult => ({
  slo: 'api-client-success-ratio',
  side: 'client',
  severity: 'error',
  phase: 'baseline',
  phaseKind: 'baseline',
  verdict: 'pass',
  value: 1,
  threshold: '≥ 99%',
  samples: 300,
  queries: { value: 'q', samples: 's' },
  evaluatedAt: 0,
  windowSeconds: 6,
  ...overrides,
});

const input = (overrides: Partial<DecisionInput> = {}): DecisionInput => ({
  outcome: { status: 'completed', teardownErrors: [] },
  slos: [result(), result({ phase: 'overall', phaseKind: 'overall' })],
  load: undefined,
  experiments: [{ name: 'pod-delete', experiment: 'pod-delete', start: 0, end: 1, actions: [], tookEffect: true }],
  cleanupProblems: [],
  classifyError: () => ExitCode.Environment,
  ...overrides,
});

describe('decideRun', () => {
  it('passes only a completed run whose judged SLOs all passed', () => {
    expect(decideRun(input())).toMatchObject({ verdict: 'pass', exitCode: 0, status: 'completed' });
  });

  it('fails (exit 1) naming the SLO, the phase, the value and the objective', () => {
    const decision = decideRun(input({ slos: [result(), result({ slo: 'api-client-latency-p95', phase: 'pod-delete', verdict: 'fail', value: 612.4, threshold: '< 500 ms' })] }));
    expect(decision).toMatchObject({ verdict: 'fail', exitCode: 1 });
    expect(decision.reason).toContain('api-client-latency-p95 in phase pod-delete: 612 ms (objective < 500 ms)');
  });

  it('a failure outranks an inconclusive result', () => {
    expect(decideRun(input({ slos: [result({ verdict: 'inconclusive', reason: 'no data' }), result({ verdict: 'fail', value: 0.9 })] })).verdict).toBe('fail');
  });

  it('is inconclusive (exit 3), never pass, without judged SLOs, with an unsure SLO, an overloaded generator or an unproven fault', () => {
    expect(decideRun(input({ slos: [] }))).toMatchObject({ verdict: 'inconclusive', exitCode: 3 });
    expect(decideRun(input({ slos: [result({ severity: 'warning' })] })).reason).toMatch(/No SLO of severity error or critical was evaluated/);
    expect(decideRun(input({ slos: [result({ verdict: 'inconclusive', reason: 'Prometheus is unreachable' })] })).reason).toMatch(/Prometheus is unreachable/);
    const load = { selfHealth: { overloaded: true, reason: 'maxVUs reached', maxEventLoopLagMs: 0, meanCpuUtilization: 0 } } as unknown as LoadSummary;
    expect(decideRun(input({ load }))).toMatchObject({ verdict: 'inconclusive', exitCode: 3 });
    const unproven = decideRun(input({ experiments: [{ name: 'pod-delete', experiment: 'pod-delete', start: 0, end: 1, actions: [], tookEffect: false, reason: 'no pod matched' }] }));
    expect(unproven).toMatchObject({ verdict: 'inconclusive', exitCode: 3 });
    expect(unproven.reason).toMatch(/Experiment pod-delete did not prove its effect: no pod matched/);
  });

  it('a failing warning-severity SLO is reported but does not fail the run', () => {
    expect(decideRun(input({ slos: [result(), result({ severity: 'warning', verdict: 'fail' })] })).verdict).toBe('pass');
  });

  it('maps an interruption to 130, the deadline to 3 and a failed stage through classifyError', () => {
    expect(decideRun(input({ outcome: { status: 'aborted', task: 'load and chaos', reason: new RunAbort('interrupted', 'SIGINT received'), teardownErrors: [] } }))).toMatchObject({
      exitCode: 130,
      status: 'interrupted',
      verdict: 'inconclusive',
    });
    expect(decideRun(input({ outcome: { status: 'aborted', task: 'load', reason: new RunAbort('deadline', 'The run exceeded its timeout of 60s'), teardownErrors: [] } }))).toMatchObject({
      exitCode: 3,
      status: 'deadline',
    });
    expect(
      decideRun(input({ outcome: { status: 'failed', task: 'provision', error: new Error('prometheus missing\nmore'), teardownErrors: [] }, classifyError: () => ExitCode.Environment })),
    ).toMatchObject({ exitCode: 4, status: 'failed', reason: '"provision" failed: prometheus missing' });
  });

  it('a cleanup problem overrides every other exit code with 5 and says how to recover', () => {
    const decision = decideRun(input({ cleanupProblems: ['the ledger still holds postgres (pid 42)'] }));
    expect(decision.exitCode).toBe(5);
    expect(decision.reason).toMatch(/Cleanup failed.*postgres \(pid 42\).*resilience cleanup/);
  });
});
