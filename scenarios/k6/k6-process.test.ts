import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ExitCode } from '../../scripts/exit-codes.ts';
import { K6ProcessError, k6Available, k6RunCommand, mapK6ExitCode, parseK6Version, runK6 } from './k6-process.ts';

// The k6 binary cannot be installed here: these tests put a TEST DOUBLE named `k6` (a shell script
// written into a temp dir) first on PATH. It records its arguments and environment, prints the
// version it is told to, and exits with the code it is told to; on SIGINT it exits 105 like k6.
const DOUBLE_SOURCE = `#!/bin/sh
# k6 TEST DOUBLE (k6-process.test.ts): not k6.
if [ "$1" = "version" ]; then
  if [ -n "$K6_DOUBLE_VERSION_EXIT" ]; then echo "broken" >&2; exit "$K6_DOUBLE_VERSION_EXIT"; fi
  echo "$K6_DOUBLE_VERSION"; exit 0
fi
# The trap is set before the args file is written: the test sends SIGINT once it sees that file.
if [ "$K6_DOUBLE_EXIT" = "wait" ]; then trap 'echo interrupted; exit 105' INT; fi
printf '%s\\n' "$@" > "$K6_DOUBLE_DIR/args"
env > "$K6_DOUBLE_DIR/env"
echo "running (double)"
if [ "$K6_DOUBLE_EXIT" = "wait" ]; then
  i=0
  while [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
  exit 1
fi
exit "$K6_DOUBLE_EXIT"
`;

const dirs: string[] = [];

async function doubleOnPath(): Promise<{ dir: string; env: NodeJS.ProcessEnv }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'k6-double-'));
  dirs.push(dir);
  await writeFile(path.join(dir, 'k6'), DOUBLE_SOURCE);
  await chmod(path.join(dir, 'k6'), 0o755);
  return { dir, env: { ...process.env, PATH: `${dir}${path.delimiter}${process.env.PATH ?? ''}`, K6_DOUBLE_DIR: dir } };
}

afterEach(async () => {
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

const input = { scriptPath: '/tmp/x/api.k6.js', baseUrl: 'http://127.0.0.1:8080/', runId: 'api-20261126-1', prometheusUrl: 'http://127.0.0.1:9090', summaryPath: '/tmp/x/summary.json' };

describe('k6RunCommand', () => {
  it('writes to Prometheus remote write with native histograms, keeps the summary, tags the run', () => {
    expect(k6RunCommand(input)).toEqual({
      command: 'k6',
      args: ['run', '--out', 'experimental-prometheus-rw', '--summary-export', '/tmp/x/summary.json', '--tag', 'testid=api-20261126-1', '-e', 'BASE_URL=http://127.0.0.1:8080', '--no-color', '/tmp/x/api.k6.js'],
      env: {
        K6_PROMETHEUS_RW_SERVER_URL: 'http://127.0.0.1:9090/api/v1/write',
        K6_PROMETHEUS_RW_PUSH_INTERVAL: '1s',
        K6_PROMETHEUS_RW_STALE_MARKERS: 'true',
        K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM: 'true',
      },
    });
    const gauges = k6RunCommand({ ...input, nativeHistograms: false, pushInterval: '5s' }).env;
    expect(gauges.K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM).toBeUndefined();
    expect(gauges.K6_PROMETHEUS_RW_TREND_STATS).toBe('p(95),p(99),min,max,avg,med');
    expect(gauges.K6_PROMETHEUS_RW_PUSH_INTERVAL).toBe('5s');
  });

  it('names the bad field', () => {
    expect(() => k6RunCommand({ ...input, prometheusUrl: '127.0.0.1:9090' })).toThrow(/prometheusUrl: got "127\.0\.0\.1:9090"/);
    expect(() => k6RunCommand({ ...input, baseUrl: '' })).toThrow(/baseUrl: got ""/);
    expect(() => k6RunCommand({ ...input, runId: 'a b' })).toThrow(/runId: got "a b"/);
    expect(() => k6RunCommand({ ...input, pushInterval: 'often' })).toThrow(K6ProcessError);
  });
});

describe('mapK6ExitCode', () => {
  it('maps every documented k6 code, signals and unknown codes; unknown is never a pass', () => {
    const table: [number | null, number, string][] = [
      [0, ExitCode.Pass, 'ok'],
      [97, ExitCode.Environment, 'CloudTestRunFailed'],
      [98, ExitCode.Environment, 'CloudFailedToGetProgress'],
      [99, ExitCode.SloFailed, 'ThresholdsHaveFailed'],
      [100, ExitCode.Inconclusive, 'SetupTimeout'],
      [101, ExitCode.Inconclusive, 'TeardownTimeout'],
      [102, ExitCode.Inconclusive, 'GenericTimeout'],
      [103, ExitCode.Interrupted, 'ScriptStoppedFromRESTAPI'],
      [104, ExitCode.InvalidConfig, 'InvalidConfig'],
      [105, ExitCode.Interrupted, 'ExternalAbort'],
      [106, ExitCode.Environment, 'CannotStartRESTAPI'],
      [107, ExitCode.Inconclusive, 'ScriptException'],
      [108, ExitCode.Inconclusive, 'ScriptAborted'],
      [255, ExitCode.Inconclusive, 'unknown'],
      [1, ExitCode.Inconclusive, 'unknown'],
    ];
    for (const [code, harness, name] of table) expect(mapK6ExitCode(code), String(code)).toMatchObject({ harnessCode: harness, k6Name: name });
    expect(mapK6ExitCode(107).reason).toMatch(/k6 exit 107 \(ScriptException\)/);
    expect(mapK6ExitCode(null, 'SIGTERM')).toMatchObject({ harnessCode: ExitCode.Interrupted, k6Name: 'signal' });
    expect(mapK6ExitCode(null, 'SIGKILL')).toMatchObject({ harnessCode: ExitCode.Inconclusive, reason: 'k6 was killed by SIGKILL' });
  });
});

describe('k6Available (k6 test double on PATH)', () => {
  it('accepts k6 ≥ 0.57 and v1, with its path and version', async () => {
    const { dir, env } = await doubleOnPath();
    expect(await k6Available({ ...env, K6_DOUBLE_VERSION: 'k6 v0.57.0 (go1.23.6, linux/amd64)' })).toEqual({ ok: true, path: path.join(dir, 'k6'), version: '0.57.0' });
    expect(await k6Available({ ...env, K6_DOUBLE_VERSION: 'k6 v1.2.3 (commit/abc, go1.24.2, linux/amd64)' })).toMatchObject({ ok: true, version: '1.2.3' });
  });

  it('says why not: missing, too old, no version, version command failing', async () => {
    expect(await k6Available({ PATH: '/nonexistent-dir' })).toEqual({ ok: false, reason: expect.stringMatching(/k6 is not on PATH: install k6 ≥ 0\.57\.0/) as unknown });
    const { env } = await doubleOnPath();
    expect(await k6Available({ ...env, K6_DOUBLE_VERSION: 'k6 v0.56.9 (go1.23, linux/amd64)' })).toMatchObject({ ok: false, reason: expect.stringMatching(/k6 0\.56\.9 .* older than 0\.57\.0/) as unknown });
    expect(await k6Available({ ...env, K6_DOUBLE_VERSION: 'hello' })).toMatchObject({ ok: false, reason: expect.stringMatching(/printed no k6 version/) as unknown });
    expect(await k6Available({ ...env, K6_DOUBLE_VERSION_EXIT: '3' })).toMatchObject({ ok: false, reason: expect.stringMatching(/version` exited 3: broken/) as unknown });
    expect(parseK6Version('k6 v0.57.0 (go1.23.6, linux/amd64)')).toBe('0.57.0');
  });
});

describe('runK6 (k6 test double on PATH)', () => {
  it('passes the command line and the remote-write environment to k6 and maps its exit codes', async () => {
    const { dir, env } = await doubleOnPath();
    const command = k6RunCommand(input);
    for (const [exit, harness] of [
      ['0', ExitCode.Pass],
      ['99', ExitCode.SloFailed],
      ['107', ExitCode.Inconclusive],
    ] as const) {
      const result = await runK6(command, { env: { ...env, K6_DOUBLE_EXIT: exit } });
      expect(result.code).toBe(Number(exit));
      expect(result.meaning.harnessCode).toBe(harness);
      expect(result.output).toContain('running (double)');
    }
    expect((await readFile(path.join(dir, 'args'), 'utf8')).trim().split('\n')).toEqual(command.args);
    const recordedEnv = await readFile(path.join(dir, 'env'), 'utf8');
    expect(recordedEnv).toContain('K6_PROMETHEUS_RW_SERVER_URL=http://127.0.0.1:9090/api/v1/write\n');
    expect(recordedEnv).toContain('K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM=true\n');
  });

  it('interrupts k6 with SIGINT on abort (k6 exits 105 → Interrupted)', async () => {
    const { dir, env } = await doubleOnPath();
    const controller = new AbortController();
    const running = runK6(k6RunCommand(input), { env: { ...env, K6_DOUBLE_EXIT: 'wait' }, signal: controller.signal, killAfterMs: 10_000 });
    // Abort once the double has started (it writes its args first): poll with a deadline.
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (await readFile(path.join(dir, 'args'), 'utf8').then(() => true, () => false)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    controller.abort();
    const result = await running;
    expect(result.code).toBe(105);
    expect(result.meaning).toMatchObject({ harnessCode: ExitCode.Interrupted, k6Name: 'ExternalAbort' });
  });

  it('rejects naming the binary when k6 cannot be started', async () => {
    await expect(runK6({ command: '/nonexistent/k6', args: ['run'], env: {} })).rejects.toThrow(/cannot start \/nonexistent\/k6: .*resilience doctor/);
  });
});
