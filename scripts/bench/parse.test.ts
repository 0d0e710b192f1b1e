import { describe, expect, it } from 'vitest';
import { coreBusySeconds } from './cpu-stat.ts';
import { median, parseAutocannonJson, parseHey, parseTimeOutput, parseWrk } from './parse.ts';
import { parsePlan } from './plan.ts';
import { parseRunnerArgs } from './runner-args.ts';

// Outputs as wrk 4.1.0 and hey 0.1.4 (Debian 12) print them; generators.test.ts runs the real tools.
const WRK = `Running 1s test @ http://127.0.0.1:18765/
  1 threads and 2 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.31ms    7.39ms  50.74ms   88.10%
    Req/Sec   592.50    391.35     1.09k    40.00%
  594 requests in 1.03s, 2.99MB read
  Socket errors: connect 0, read 2, write 1, timeout 0
  Non-2xx or 3xx responses: 4
Requests/sec:    576.70
Transfer/sec:      2.91MB
`;
const HEY = `Summary:
  Total:	1.0012 secs
  Requests/sec:	1631.0427

Status code distribution:
  [200]	1600 responses
  [404]	33 responses

Error distribution:
  [5]	Get "http://127.0.0.1:1/": dial tcp 127.0.0.1:1: connect: connection refused
  [2]	Get "http://127.0.0.1:1/": EOF
`;

describe('generator output readers', () => {
  it('reads wrk: rate, requests, socket errors and non-2xx', () => {
    expect(parseWrk(WRK)).toEqual({ ratePerSec: 576.7, requests: 594, errors: 7 });
    expect(parseWrk(WRK.replace(/ {2}Socket.*\n {2}Non.*\n/, ''))).toEqual({ ratePerSec: 576.7, requests: 594, errors: 0 });
    expect(() => parseWrk('unable to connect to 127.0.0.1:1 Connection refused')).toThrow(/wrk output has no "Requests\/sec:"/);
  });

  it('reads hey: rate, responses by status, errors', () => {
    expect(parseHey(HEY)).toEqual({ ratePerSec: 1631.0427, requests: 1633, errors: 33 + 7 });
    expect(() => parseHey('Usage: hey [options...] <url>')).toThrow(/hey output has no "Requests\/sec:"/);
  });

  it('reads autocannon --json (after a warning line), and rejects non-JSON or incomplete JSON', () => {
    const json = JSON.stringify({ requests: { total: 3000, average: 1000 }, duration: 3.0, errors: 1, non2xx: 2 });
    expect(parseAutocannonJson(`(node:1) Warning: something\n${json}\n`)).toEqual({ ratePerSec: 1000, requests: 3000, errors: 3 });
    expect(() => parseAutocannonJson('Running 10s test @ http://127.0.0.1')).toThrow(/autocannon --json output is not JSON/);
    expect(() => parseAutocannonJson(JSON.stringify({ requests: {}, duration: 0 }))).toThrow(/lacks requests.total or a positive duration/);
  });

  it('reads /usr/bin/time usage, also after a non-zero-exit line', () => {
    expect(parseTimeOutput('usage 10.02 1.50 0.25 51200\n')).toEqual({ wallSeconds: 10.02, cpuSeconds: 1.75, peakRssMiB: 50 });
    expect(parseTimeOutput('Command exited with non-zero status 1\nusage 0.01 0.00 0.00 1024\n').peakRssMiB).toBe(1);
    expect(() => parseTimeOutput('')).toThrow(/has no "usage %e %U %S %M" line/);
  });

  it('takes medians of odd and even counts, and refuses an empty list', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(() => median([])).toThrow(/median of an empty list/);
  });

  it('reads a core\'s busy seconds from /proc/stat, and names a missing core', () => {
    const stat = 'cpu  1 2 3 4 5 6 7 8 0 0\ncpu0 100 0 50 900 10 5 5 0 0 0\ncpu1 200 10 40 700 20 0 0 30 0 0\n';
    // user + nice + system + irq + softirq + steal, not idle or iowait; 100 ticks per second.
    expect(coreBusySeconds(0, stat)).toBeCloseTo(1.6);
    expect(coreBusySeconds(1, stat)).toBeCloseTo(2.8);
    expect(() => coreBusySeconds(7, stat)).toThrow(/no line for cpu7/);
    expect(coreBusySeconds(0)).toBeGreaterThan(0);
  });
});

describe('benchmark arguments', () => {
  it('defaults to 5 full runs; --quick to 1 short run; --runs overrides both', () => {
    expect(parsePlan([])).toMatchObject({ mode: 'full', runs: 5, throughputSeconds: 10, cpuSeconds: 20, cpuRate: 2_000, accuracyRate: 5_000, rssRate: 10_000 });
    expect(parsePlan(['--quick'])).toMatchObject({ mode: 'quick', runs: 1, throughputSeconds: 3 });
    expect(parsePlan(['--quick', '--runs', '3', '--out-dir', '/tmp/x'])).toMatchObject({ runs: 3, outDir: '/tmp/x' });
  });

  it('names a bad argument and shows the usage', () => {
    expect(() => parsePlan(['--runs', '0'])).toThrow(/--runs must be an integer from 1 to 50, got "0"[\s\S]*usage:/);
    expect(() => parsePlan(['--runs', 'five'])).toThrow(/--runs must be an integer/);
    expect(() => parsePlan(['--runs'])).toThrow(/--runs needs a value/);
    expect(() => parsePlan(['--fast'])).toThrow(/unknown argument "--fast"/);
  });

  it('validates the engine runner\'s JSON argument field by field', () => {
    const ok = { url: 'http://127.0.0.1:8080/', rate: 10, durationSeconds: 1, preAllocatedVUs: 1, maxVUs: 2 };
    expect(parseRunnerArgs(JSON.stringify(ok))).toEqual(ok);
    expect(() => parseRunnerArgs(undefined)).toThrow(/needs one JSON argument/);
    expect(() => parseRunnerArgs('{rate')).toThrow(/is not JSON/);
    expect(() => parseRunnerArgs(JSON.stringify({ ...ok, url: 'http://example.com/' }))).toThrow(/url must be http:\/\/127.0.0.1/);
    expect(() => parseRunnerArgs(JSON.stringify({ ...ok, maxVUs: 0 }))).toThrow(/maxVUs must be a positive number, got 0/);
  });
});
