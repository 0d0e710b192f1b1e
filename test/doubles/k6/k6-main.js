#!/usr/bin/env node
// TEST DOUBLE of the k6 binary (see README.md); it is not k6. It understands exactly the command
// lines the harness builds (`k6 version`, and `k6 run` from scenarios/k6/k6-process.ts) and runs
// the bundled script in Node with the k6 module doubles of scenarios/k6/k6-test-double, so the
// requests are real. Like k6 it pushes k6_http_reqs_total (float samples) and
// k6_http_req_duration_seconds (native histogram) to K6_PROMETHEUS_RW_SERVER_URL every push
// interval, writes the --summary-export JSON, and exits like k6 (105 on SIGINT).
// Knobs for tests: K6_DOUBLE_VERSION (what `k6 version` prints), K6_DOUBLE_EXIT (exit code after
// a normal run, e.g. 99 to stand in for failed thresholds), K6_DOUBLE_LOG (a file the command
// line and environment are appended to as one JSON line per call).
import { appendFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { nativeHistogram, pushSeries } from './remote-write.js';

const REPO = new URL('../../../', import.meta.url);
// Like k6: SIGINT at any time ends the test gracefully (summary written, exit 105).
let interrupted = false;
process.on('SIGINT', () => {
  interrupted = true;
});
const args = process.argv.slice(2);
if (process.env.K6_DOUBLE_LOG) appendFileSync(process.env.K6_DOUBLE_LOG, `${JSON.stringify({ args, rw: process.env.K6_PROMETHEUS_RW_SERVER_URL ?? null, native: process.env.K6_PROMETHEUS_RW_TREND_AS_NATIVE_HISTOGRAM ?? null })}\n`);

if (args[0] === 'version') {
  console.log(`k6 v${process.env.K6_DOUBLE_VERSION ?? '0.57.0'} (test double, linux/amd64)`);
  process.exit(0);
}
if (args[0] !== 'run') {
  console.error(`k6 test double: unsupported command ${JSON.stringify(args)}`);
  process.exit(104);
}

const flag = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const scriptPath = args.at(-1);
const summaryPath = flag('--summary-export');
const tags = Object.fromEntries(args.flatMap((a, i) => (args[i - 1] === '--tag' ? [a.split('=')] : [])));
const env = Object.fromEntries(args.flatMap((a, i) => (args[i - 1] === '-e' ? [[a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]] : [])));
const rwUrl = process.env.K6_PROMETHEUS_RW_SERVER_URL;
const pushEveryMs = parseDuration(process.env.K6_PROMETHEUS_RW_PUSH_INTERVAL ?? '5s');

function parseDuration(text) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(String(text));
  if (!m) throw new Error(`k6 test double: ${text} is not a duration`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60000 }[m[2]];
}

await import(new URL('scenarios/k6/k6-test-double/register.js', REPO).href);
const { recorded, executionState } = await import(new URL('scenarios/k6/k6-test-double/state.js', REPO).href);
globalThis.__ENV = env;
const script = await import(pathToFileURL(scriptPath).href);

const started = Date.now();

// Per label set: request count and durations (seconds), cumulative as Prometheus counters are.
const series = new Map();
const durations = [];
let failed = 0;
let dropped = 0;

function expected(status, params) {
  const list = params.responseCallback ?? [{ min: 200, max: 399 }];
  return list.some((s) => (typeof s === 'number' ? s === status : status >= s.min && status <= s.max));
}

function record(scenario, request, seconds) {
  const ok = request.status !== 0 && expected(request.status, request.params);
  if (!ok) failed++;
  durations.push(seconds * 1000);
  const labels = { ...tags, scenario, name: request.params.tags?.name ?? request.url, method: request.method, status: String(request.status), expected_response: String(ok) };
  const key = JSON.stringify(labels);
  const entry = series.get(key) ?? { labels, values: [] };
  entry.values.push(seconds);
  series.set(key, entry);
}

async function push() {
  if (!rwUrl || series.size === 0) return;
  const now = Date.now();
  const out = [];
  for (const { labels, values } of series.values()) {
    out.push({ labels: { __name__: 'k6_http_reqs_total', ...labels }, samples: [{ value: values.length, timestampMs: now }] });
    out.push({ labels: { __name__: 'k6_http_req_duration_seconds', ...labels }, histograms: [nativeHistogram(values, now)] });
  }
  await pushSeries(rwUrl, out).catch((error) => console.error(`k6 test double: ${error.message}`));
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
const pusher = setInterval(() => void push(), pushEveryMs);
const setupData = typeof script.setup === 'function' ? await script.setup() : undefined;

for (const [name, scenario] of Object.entries(script.options.scenarios ?? {})) {
  if (scenario.executor !== 'constant-arrival-rate') {
    console.error(`k6 test double: scenario ${name}: only constant-arrival-rate is supported, got ${scenario.executor}`);
    process.exit(104);
  }
  const intervalMs = parseDuration(scenario.timeUnit ?? '1s') / scenario.rate;
  const total = Math.floor(parseDuration(scenario.duration) / intervalMs);
  const exec = script[scenario.exec ?? 'default'];
  const loadStart = Date.now();
  for (let i = 0; i < total && !interrupted; i++) {
    const due = loadStart + i * intervalMs;
    if (Date.now() - due > 1000) {
      dropped++;
      continue;
    }
    await sleep(due - Date.now());
    executionState.scenario = name;
    executionState.iterationInTest = i;
    const before = recorded.requests.length;
    const t0 = performance.now();
    try {
      exec(setupData);
    } catch (error) {
      console.error(`k6 test double: iteration ${i} threw: ${error.message}`);
    }
    const made = recorded.requests.slice(before);
    // The double cannot time each request inside an iteration: the iteration's time is shared out.
    const seconds = (performance.now() - t0) / 1000 / Math.max(1, made.length);
    for (const request of made) record(name, request, seconds);
    if (i % 20 === 0) console.log(`running (${((Date.now() - started) / 1000).toFixed(1)}s), ${i}/${total} iterations`);
  }
}
clearInterval(pusher);
await push();

const sorted = [...durations].sort((a, b) => a - b);
const pct = (q) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]);
const checks = {};
for (const c of recorded.checks) {
  for (const [name, ok] of Object.entries(c.results)) {
    checks[name] ??= { name, path: `::${name}`, passes: 0, fails: 0 };
    checks[name][ok ? 'passes' : 'fails']++;
  }
}
const elapsedMs = Date.now() - started;
if (summaryPath) {
  writeFileSync(
    summaryPath,
    JSON.stringify({
      state: { isStdOutTTY: false, isStdErrTTY: false, testRunDurationMs: elapsedMs },
      metrics: {
        http_reqs: { count: durations.length, rate: durations.length / (elapsedMs / 1000) },
        http_req_failed: { passes: failed, fails: durations.length - failed, value: durations.length ? failed / durations.length : 0 },
        http_req_duration: { avg: sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length), min: sorted[0] ?? 0, med: pct(0.5), max: sorted.at(-1) ?? 0, 'p(90)': pct(0.9), 'p(95)': pct(0.95), 'p(99)': pct(0.99) },
        ...(dropped > 0 ? { dropped_iterations: { count: dropped, rate: dropped / (elapsedMs / 1000) } } : {}),
      },
      root_group: { name: '', path: '', id: 'd41d8cd98f00b204e9800998ecf8427e', groups: {}, checks },
    }),
  );
}
console.log(`k6 test double: ${durations.length} requests, ${failed} failed, ${dropped} dropped`);
process.exit(interrupted ? 105 : Number(process.env.K6_DOUBLE_EXIT ?? 0));
