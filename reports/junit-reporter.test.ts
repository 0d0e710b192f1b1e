import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { junitReporter, renderJunit } from './junit-reporter.ts';
import type { RunResult } from './result.ts';
import { HOSTILE, hostileResult, passResult } from './testdata/fixtures.ts';
import { findAll, openXmlParser, type XmlNode, type XmlParser } from './testdata/xml-parser.ts';

let parser: XmlParser;
let tmp: string;
beforeAll(async () => {
  parser = await openXmlParser();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'junit-reporter-'));
});
afterAll(async () => {
  await parser?.close();
  await rm(tmp, { recursive: true, force: true });
});

/** What a CI system sees once it parsed junit.xml: the control characters come back as visible \uNNNN. */
const HOSTILE_AS_PARSED = HOSTILE.replace('\u001b', '\\u001b').replace('\u0007', '\\u0007');

interface Case {
  suite: string;
  classname: string;
  name: string;
  outcome: 'pass' | 'failure' | 'error' | 'skipped';
  message?: string;
  type?: string;
  body?: string;
  out?: string;
}

function cases(root: XmlNode): Case[] {
  return findAll(root, 'testsuite').flatMap((suite) =>
    suite.children
      .filter((c) => c.name === 'testcase')
      .map((c) => {
        const result = c.children.find((x) => ['failure', 'error', 'skipped'].includes(x.name));
        return {
          suite: suite.attrs.name ?? '',
          classname: c.attrs.classname ?? '',
          name: c.attrs.name ?? '',
          outcome: (result?.name ?? 'pass') as Case['outcome'],
          ...(result?.attrs.message !== undefined ? { message: result.attrs.message } : {}),
          ...(result?.attrs.type !== undefined ? { type: result.attrs.type } : {}),
          ...(result ? { body: result.text } : {}),
          out: c.children.find((x) => x.name === 'system-out')?.text ?? '',
        };
      }),
  );
}

/** The counts each <testsuite> and <testsuites> declares must be the counts of what it holds: CI systems trust them. */
function expectConsistentCounts(root: XmlNode): void {
  const all = cases(root);
  for (const suite of findAll(root, 'testsuite')) {
    const own = all.filter((c) => c.suite === suite.attrs.name);
    expect(suite.attrs, `counts of ${suite.attrs.name}`).toMatchObject({
      tests: String(own.length),
      failures: String(own.filter((c) => c.outcome === 'failure').length),
      errors: String(own.filter((c) => c.outcome === 'error').length),
      skipped: String(own.filter((c) => c.outcome === 'skipped').length),
    });
  }
  expect(root.attrs).toMatchObject({ tests: String(all.length), failures: String(all.filter((c) => c.outcome === 'failure').length), errors: String(all.filter((c) => c.outcome === 'error').length) });
}

describe('junitReporter on a real passing run', () => {
  it('writes junit.xml with one suite per phase, one test case per SLO and phase, and nothing failing', async () => {
    const result = passResult();
    const file = await junitReporter.write(result, tmp);
    expect(file).toBe(path.join(tmp, 'junit.xml'));
    const root = await parser.parse(await readFile(file, 'utf8'));
    expect(root.name).toBe('testsuites');
    expectConsistentCounts(root);

    const all = cases(root);
    expect(findAll(root, 'testsuite').map((s) => s.attrs.name)).toEqual(['api / baseline', 'api / pod-delete', 'api / recovery', 'api / overall', 'api / run']);
    for (const s of result.slos) {
      expect(all, `${s.slo} in ${s.phase}`).toContainEqual(expect.objectContaining({ classname: `resilience.api.${s.phase}`, name: s.slo, outcome: 'pass' }));
    }
    expect(all.filter((c) => c.suite !== 'api / run' && !c.name.endsWith('took effect'))).toHaveLength(result.slos.length);
    expect(all.find((c) => c.name === 'pod-delete took effect')).toMatchObject({ suite: 'api / pod-delete', outcome: 'pass' });
    expect(all.find((c) => c.name === 'pod-delete took effect')?.out).toMatch(/pod-delete hastecrm-api-\w+ \(pid \d+\): pid \d+ → hastecrm-api-\w+ pid \d+, ready/);
    expect(all.filter((c) => c.suite === 'api / run').map((c) => c.name)).toEqual(['run completed', 'load generator kept its rate', 'cleanup left nothing behind']);
    expect(all.every((c) => c.outcome === 'pass')).toBe(true);
    // The canary halted, but report-only: it is in the HTML, not a gate in CI.
    expect(all.some((c) => c.suite.includes('release analysis'))).toBe(false);
  });

  it("puts each passing SLO's value and objective where CI shows a test's output", async () => {
    const root = await parser.parse(renderJunit(passResult()));
    const latency = cases(root).find((c) => c.classname === 'resilience.api.pod-delete' && c.name === 'api-client-latency-p95');
    expect(latency?.out).toMatch(/^api-client-latency-p95 in pod-delete: \d+\.\d ms \(objective < 500 ms\) \[pass\]\nsamples: 500\n/);
    expect(latency?.out).toContain('histogram_quantile(0.95');
  });
});

describe('junitReporter on a failing run with markup everywhere', () => {
  it('stays well-formed XML and gives back every hostile string as text', async () => {
    const xml = renderJunit(hostileResult());
    expect(xml).not.toContain('<script>');
    const root = await parser.parse(xml);
    expectConsistentCounts(root);
    expect(root.attrs.name).toContain(`api ${HOSTILE_AS_PARSED}`);
    expect(findAll(root, 'testsuite').map((s) => s.attrs.name)).toContain(`api ${HOSTILE_AS_PARSED} / chaos ${HOSTILE_AS_PARSED}`);
  });

  it('fails the SLO that failed, with value vs objective in the message and the PromQL and samples in the body', async () => {
    const all = cases(await parser.parse(renderJunit(hostileResult())));
    const failed = all.find((c) => c.name === 'api-client-latency-p95' && c.suite.endsWith('/ pod-delete'));
    expect(failed).toMatchObject({ outcome: 'failure', type: 'slo-failed', message: 'api-client-latency-p95 in pod-delete: 612 ms (objective < 500 ms)' });
    expect(failed?.body).toContain(`k6_http_req_duration_seconds_bucket{scenario="${HOSTILE_AS_PARSED.replaceAll('"', '\\"')}"}`);
    expect(failed?.body).toMatch(/^samples: 500$/m);
    expect(failed?.body).toMatch(/^window: 10 s ending \d{4}-\d\d-\d\dT/m);
    expect(failed?.body).toContain(`why: p95 above the objective ${HOSTILE_AS_PARSED}`);
  });

  it('reports inconclusive SLOs and unproven experiments as errors, never as passed or skipped', async () => {
    const all = cases(await parser.parse(renderJunit(hostileResult())));
    expect(all.find((c) => c.name === 'api-server-success-ratio' && c.suite.endsWith('/ baseline'))).toMatchObject({
      outcome: 'error',
      type: 'inconclusive',
      message: `api-server-success-ratio in baseline could not be judged: too few samples (3 < 20) ${HOSTILE_AS_PARSED}`,
    });
    expect(all.find((c) => c.name === `chaos ${HOSTILE_AS_PARSED} took effect`)).toMatchObject({ outcome: 'error', type: 'not-proven', message: `chaos ${HOSTILE_AS_PARSED} did not prove its effect: no replacement became ready ${HOSTILE_AS_PARSED}` });
  });

  it('shows a failing warning-severity SLO as skipped (the run does not fail for it), the breach and the gating canaries', async () => {
    const all = cases(await parser.parse(renderJunit(hostileResult())));
    expect(all.find((c) => c.name === `api-warning-${HOSTILE_AS_PARSED}`)).toMatchObject({ outcome: 'skipped' });
    expect(all.find((c) => c.name === `api-warning-${HOSTILE_AS_PARSED}`)?.message).toMatch(/^report only \(severity warning\): fail: /);
    expect(all.find((c) => c.name === 'no critical SLO breached while the load ran')).toMatchObject({ outcome: 'failure', type: 'slo-breached' });
    expect(all.find((c) => c.suite.endsWith('/ release analysis') && c.name.startsWith('flagger'))).toMatchObject({ outcome: 'failure', message: `flagger hastecrm-api${HOSTILE_AS_PARSED} would rollback: 5 failed checks ${HOSTILE_AS_PARSED}` });
    expect(all.find((c) => c.suite.endsWith('/ release analysis') && c.name.startsWith('argo-rollouts'))).toMatchObject({ outcome: 'error' });
  });
});

describe('junitReporter never looks greener than the exit code', () => {
  const bare = (overrides: Partial<RunResult>): RunResult => ({ ...passResult(), phases: [], slos: [], experiments: [], recovery: [], divergence: [], canary: [], ...overrides });

  it('a run that failed before any SLO was judged is an error, not an empty green report', async () => {
    const result = bare({ verdict: 'inconclusive', status: 'failed', exitCode: 4, reason: '"start Prometheus" failed: prometheus not found', errors: ['prometheus not found on PATH'] });
    delete result.load;
    const all = cases(await parser.parse(renderJunit(result)));
    expect(all.find((c) => c.name === 'run completed')).toMatchObject({ outcome: 'error', type: 'failed', message: 'run failed: "start Prometheus" failed: prometheus not found', body: 'prometheus not found on PATH' });
  });

  it('an inconclusive verdict the test cases do not explain gets its own test case', async () => {
    const result = bare({ verdict: 'inconclusive', exitCode: 3, reason: 'No SLO of severity error or critical was evaluated, so nothing could have failed.' });
    const all = cases(await parser.parse(renderJunit(result)));
    expect(all.find((c) => c.name === 'run verdict')).toMatchObject({ outcome: 'error', message: result.reason });
    expect(cases(await parser.parse(renderJunit(passResult()))).some((c) => c.name === 'run verdict')).toBe(false);
  });

  it('a failed cleanup (exit code 5) is an error naming what remains', async () => {
    const result = { ...passResult(), exitCode: 5, errors: ['the ledger still holds replica hastecrm-api-1'] };
    const all = cases(await parser.parse(renderJunit(result)));
    expect(all.find((c) => c.name === 'cleanup left nothing behind')).toMatchObject({ outcome: 'error', body: 'the ledger still holds replica hastecrm-api-1' });
  });
});
