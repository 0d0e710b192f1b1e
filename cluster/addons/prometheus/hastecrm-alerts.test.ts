import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';

// promtool is the authority on rule files: `check rules` validates syntax and PromQL,
// `test rules` replays hastecrm-alerts.test.yaml (APIHighErrorRate fires above 5 % after 5 m and
// not below; the fixed division/guards of the other rules).
const dir = fileURLToPath(new URL('.', import.meta.url));

async function promtool(args: string[]): Promise<{ exitCode: number | undefined; output: string }> {
  const result = await execa('promtool', args, { cwd: dir, reject: false, all: true, timeout: 30_000 });
  if (result.failed && result.exitCode === undefined) throw new Error(`promtool could not run (is Prometheus's promtool on PATH?): ${result.message}`);
  return { exitCode: result.exitCode, output: result.all ?? '' };
}

describe('hastecrm-alerts.yaml', () => {
  it('passes promtool check rules', async () => {
    const { exitCode, output } = await promtool(['check', 'rules', 'hastecrm-alerts.yaml']);
    expect(output, 'promtool should report the four seed alerts').toContain('SUCCESS: 4 rules found');
    expect(exitCode, `promtool check rules should succeed:\n${output}`).toBe(0);
  });

  it('passes its promtool unit tests (hastecrm-alerts.test.yaml)', async () => {
    const { exitCode, output } = await promtool(['test', 'rules', 'hastecrm-alerts.test.yaml']);
    expect(exitCode, `promtool test rules should succeed:\n${output}`).toBe(0);
    expect(output).toContain('SUCCESS');
  });
});
