import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleReporter, renderConsoleSummary } from './console-reporter.ts';
import { hostileResult, passResult } from './testdata/fixtures.ts';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'console-reporter-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function collect(): { text: () => string; write: (chunk: string) => boolean } {
  let text = '';
  return {
    text: () => text,
    write: (chunk) => {
      text += chunk;
      return true;
    },
  };
}

describe('consoleReporter', () => {
  it('prints the verdict, time to recover, the canary and where the report files are; writes no file and returns "-"', async () => {
    const runDir = path.join(tmp, 'pass');
    await mkdir(runDir);
    for (const f of ['index.html', 'junit.xml', 'result.json']) await writeFile(path.join(runDir, f), '');
    const out = collect();
    expect(await consoleReporter(out).write(passResult(), runDir)).toBe('-');
    expect(out.text().split('\n')).toEqual([
      '',
      'PASS: All 16 SLO checks passed in every phase.',
      'time to recover after pod-delete: never degraded (4 SLOs)',
      expect.stringMatching(/^canary: \? flagger hastecrm-api would halt \(report only\): Halted: the run \(24s\) allowed 0 check/),
      `report: ${path.join(runDir, 'index.html')}`,
      '  also: junit.xml, result.json',
      'exit code 0',
      '',
    ]);
  });

  it('names every failing and inconclusive check with its phase and reason, and the breach and unproven experiment', () => {
    const text = renderConsoleSummary(hostileResult(), path.join(tmp, 'missing'));
    const lines = text.split('\n');
    expect(lines[1]).toMatch(/^FAIL: 1 SLO check\(s\) failed: api-client-latency-p95 in phase pod-delete: 612 ms/);
    expect(lines).toContain('  ✖ api-client-latency-p95 [pod-delete] 612 ms (objective < 500 ms): p95 above the objective <script>alert("x")</script> & \'q\' | *b* _u_ [l](http://e.test) `c` $m$ ]]> \\x1b[31m\\x07');
    expect(lines.find((l) => l.startsWith('  ? api-server-success-ratio [baseline] could not be judged: too few samples (3 < 20)'))).toBeDefined();
    expect(lines.find((l) => l.startsWith('  ! api-warning-'))).toMatch(/\(warning, report only\)/);
    expect(lines.find((l) => l.startsWith('  ✖ api-client-latency-p95 breached while the load ran'))).toBeDefined();
    expect(lines.find((l) => l.startsWith('  ? experiment chaos <script>'))).toMatch(/did not prove its effect: no replacement became ready/);
    expect(lines).toContain('time to recover after pod-delete: api-client-success-ratio did not recover; api-client-latency-p95 2.1 s; 2 never degraded');
    expect(lines.find((l) => l.startsWith('canary: ✖ flagger'))).toMatch(/would rollback: 5 failed checks/);
    expect(lines).toContain(`report folder: ${path.join(tmp, 'missing')}`);
    expect(lines.at(-2)).toBe('exit code 1');
  });

  it('never sends a control character from the run to the terminal', () => {
    const text = renderConsoleSummary(hostileResult(), tmp);
    // Only the line breaks the summary itself writes.
    // eslint-disable-next-line no-control-regex -- looking for control characters is the point
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    expect(text).toContain('\\x1b[31m\\x07');
  });

  it('lists at most 20 problems, then says how many more there are', () => {
    const r = hostileResult();
    const failing = r.slos.find((s) => s.verdict === 'fail');
    if (!failing) throw new Error('the hostile fixture has a failing SLO');
    r.slos = Array.from({ length: 30 }, (_, i) => ({ ...failing, slo: `slo-${i}` }));
    const lines = renderConsoleSummary(r, tmp).split('\n');
    // 32 problems: the breach, 30 SLOs, the unproven experiment.
    expect(lines.filter((l) => l.startsWith('  ✖ ') || l.startsWith('  ? '))).toHaveLength(20);
    expect(lines).toContain('  … and 12 more (see the report)');
  });
});
