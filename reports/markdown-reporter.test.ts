import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markdownReporter, renderMarkdown } from './markdown-reporter.ts';
import { hostileResult, passResult } from './testdata/fixtures.ts';
import { tableCells, withoutCode } from './testdata/markdown-structure.ts';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'markdown-reporter-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Every table in the text: its rows split into cells as GFM splits them. */
function tables(markdown: string): string[][][] {
  const out: string[][][] = [];
  let current: string[][] | undefined;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('|')) (current ??= []).push(tableCells(line));
    else if (current) {
      out.push(current);
      current = undefined;
    }
  }
  if (current) out.push(current);
  return out;
}

describe('markdownReporter on a real passing run', () => {
  it('writes summary.md: verdict line, per-phase SLO tables, experiments, recovery, alerts, canary, where the report is', async () => {
    const file = await markdownReporter.write(passResult(), tmp);
    expect(file).toBe(path.join(tmp, 'summary.md'));
    const md = await readFile(file, 'utf8');
    expect(md.split('\n')[0]).toBe('## Resilience run `api-20261126-115210-bbcb`: **PASS**');
    expect(md).toContain('**PASS**: All 16 SLO checks passed in every phase.');
    for (const phase of ['baseline', 'pod-delete', 'recovery', 'overall']) expect(md).toMatch(new RegExp(`^#### ${phase} \\(`, 'm'));
    expect(md).toMatch(/^\| `api-client-latency-p95` \| client \| \d+\.\d ms \| &lt; 500 ms \| 500 \| PASS \|$/m);
    expect(md).toContain('### Experiments');
    expect(md).toMatch(/\| pod-delete \| took effect \| 0\.0 s \| pod-delete \| `hastecrm-api-\w+ \(pid \d+\)` \| pid \d+ → /);
    expect(md).toContain('### Time to recover');
    expect(md).toContain('The client and server sides agree in every phase');
    expect(md).toContain('No alert was pending or firing during the load.');
    expect(md).toMatch(/- \*\*INCONCLUSIVE\*\* flagger hastecrm-api would halt \(report only\): Halted: /);
    expect(md).toContain('Report only: these replays do not change the verdict.');
    expect(md.trimEnd().split('\n').at(-1)).toBe(`Full report: \`${path.join(tmp, 'index.html')}\``);
    // Nothing failed, so there is no evidence section to read.
    expect(md).not.toContain('### Evidence');
  });

  it('gives every row of every table as many cells as its header', () => {
    const md = renderMarkdown(passResult());
    const all = tables(md);
    expect(all.length).toBeGreaterThanOrEqual(6);
    for (const table of all) for (const row of table) expect(row, JSON.stringify(row)).toHaveLength(table[0]?.length ?? -1);
  });
});

describe('markdownReporter on a failing run with markup everywhere', () => {
  const md = renderMarkdown(hostileResult(), { reportPath: 'reports/runs/x/index.html' });
  const prose = withoutCode(md);

  it('never lets a string from the run become HTML, a link, emphasis, maths or a table column', () => {
    // Outside code, the only HTML is the <details> the summary itself writes.
    expect(prose.replace(/<\/?(details|summary)>/g, '')).not.toContain('<');
    expect(prose).toContain('&lt;script&gt;alert("x")&lt;/script&gt; &amp;');
    for (const raw of ['[l](http://e.test)', '*b*', '_u_', '$m$', ' | *b']) expect(prose).not.toContain(raw);
    expect(prose).toContain('\\[l\\](http://e.test) \\`c\\` \\$m\\$');
    // The terminal escape is visible text, not an ESC a `cat summary.md` in a CI log would obey.
    // eslint-disable-next-line no-control-regex -- looking for control characters is the point
    expect(md).not.toMatch(/[\u0000-\u0008\u001b]/);
    expect(prose).toContain('\\u001b\\[31m');
    for (const table of tables(md)) for (const row of table) expect(row, JSON.stringify(row)).toHaveLength(table[0]?.length ?? -1);
  });

  it('leads with the verdict and its reason as text badges', () => {
    expect(md.split('\n')[0]).toBe('## Resilience run `api-20261126-115210-bbcb`: **FAIL**');
    expect(md).toMatch(/^\*\*FAIL\*\*: 1 SLO check\(s\) failed: api-client-latency-p95 in phase pod-delete: 612 ms/m);
  });

  it('marks failing, inconclusive and warning checks in the phase tables, and folds the PromQL behind each into the evidence', () => {
    expect(md).toMatch(/^\| `api-client-latency-p95` \| client \| 612 ms \| &lt; 500 ms \| 500 \| \*\*FAIL\*\*: p95 above the objective &lt;script&gt;/m);
    expect(md).toMatch(/^\| `api-server-success-ratio` \| server \| no value \| ≥ 99% \| 3 \| \*\*INCONCLUSIVE\*\*: too few samples/m);
    expect(md).toMatch(/\*\*FAIL\*\* \(warning, report only\)/);
    expect(md).toContain('<details><summary>fail: api-client-latency-p95 in pod-delete: 612 ms (objective &#60; 500 ms)</summary>');
    expect(md).toMatch(/```promql\nhistogram_quantile\(0\.95, sum by \(le\) \(rate\(k6_http_req_duration_seconds_bucket\{scenario="<script>/);
  });

  it('reports the breach, the unproven experiment, recovery, divergence, alerts, the gating canaries, errors and the report path', () => {
    expect(md).toContain('### Stopped early');
    expect(md).toMatch(/\*\*INCONCLUSIVE\*\*: not proven: no replacement became ready/);
    expect(md).toMatch(/\*\*FAIL\*\*: not-recovered/);
    expect(md).toMatch(/\| 2\.1 s \|/);
    expect(md).toMatch(/\*\*diverged\*\* \| the client saw 5 % errors/);
    expect(md).toMatch(/^\| ``APIHighErrorRate<script>.*`` \| critical \| firing \| 8\.0 s → 16\.0 s \|$/m);
    expect(md).toContain('These replays gate the run.');
    expect(md).toMatch(/- \*\*FAIL\*\* flagger hastecrm-api.* would rollback: 5 failed checks/);
    expect(md).toMatch(/- \*\*INCONCLUSIVE\*\* argo-rollouts success-rate.* inconclusive: no data/);
    expect(md).toMatch(/^### Errors\n\n- &lt;script&gt;/m);
    expect(md).toMatch(/^### Compared with the last passing runs\n\n\*\*FAIL\*\*: api-client-latency-p95 in pod-delete regressed &lt;script&gt;.* \(1 baseline run\)$/m);
    expect(md).toMatch(/^\| pod-delete \| `api-client-latency-p95` \| 612\.3 ms \| 14\.0 ms \| 20\.0 ms \| \*\*regression\*\* \| p95 rose from 14 ms to 612 ms/m);
    expect(md).toMatch(/^\| baseline \| `api-server-success-ratio` \| — \| 100\.000 % \| — \| not-comparable \|/m);
    expect(md.trimEnd().endsWith('Full report: `reports/runs/x/index.html`')).toBe(true);
  });

  it('stays within a comment size by leaving out the queries first', () => {
    const short = renderMarkdown(hostileResult(), { maxLength: 2_000 });
    expect(short).toContain('### Evidence\n\nLeft out to keep this summary within the size of a comment');
    expect(short).not.toContain('```promql');
    expect(short).toContain('#### pod-delete');
  });
});
