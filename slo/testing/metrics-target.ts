import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Test support: a real HTTP server on 127.0.0.1 exposing metrics in Prometheus's text format that
 * a test controls exactly (counters and histograms it increments itself), one path per scrape job.
 */

export type Labels = Record<string, string>;

function labelText(labels: Labels): string {
  const entries = Object.entries(labels);
  return entries.length === 0 ? '' : `{${entries.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`;
}

/** A counter family; series are created at 0 when declared, as real exporters should. */
export class TestCounter {
  private readonly values = new Map<string, { labels: Labels; value: number }>();
  constructor(readonly name: string) {}

  init(labels: Labels): this {
    const key = labelText(labels);
    if (!this.values.has(key)) this.values.set(key, { labels, value: 0 });
    return this;
  }

  inc(labels: Labels, by = 1): void {
    this.init(labels);
    const entry = this.values.get(labelText(labels));
    if (entry) entry.value += by;
  }

  render(): string {
    const lines = [`# TYPE ${this.name} counter`];
    for (const { labels, value } of this.values.values()) lines.push(`${this.name}${labelText(labels)} ${value}`);
    return lines.join('\n');
  }
}

/** A histogram family with fixed upper bounds (seconds); `+Inf` is implied. */
export class TestHistogram {
  private readonly series = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly bounds: readonly number[],
  ) {}

  init(labels: Labels): this {
    const key = labelText(labels);
    if (!this.series.has(key)) this.series.set(key, { labels, counts: this.bounds.map(() => 0), sum: 0, count: 0 });
    return this;
  }

  observe(labels: Labels, seconds: number, times = 1): void {
    this.init(labels);
    const entry = this.series.get(labelText(labels));
    if (!entry) return;
    this.bounds.forEach((bound, i) => {
      if (seconds <= bound) entry.counts[i] = (entry.counts[i] ?? 0) + times;
    });
    entry.sum += seconds * times;
    entry.count += times;
  }

  render(): string {
    const lines = [`# TYPE ${this.name} histogram`];
    for (const { labels, counts, sum, count } of this.series.values()) {
      this.bounds.forEach((bound, i) => lines.push(`${this.name}_bucket${labelText({ ...labels, le: String(bound) })} ${counts[i] ?? 0}`));
      lines.push(`${this.name}_bucket${labelText({ ...labels, le: '+Inf' })} ${count}`);
      lines.push(`${this.name}_sum${labelText(labels)} ${sum}`);
      lines.push(`${this.name}_count${labelText(labels)} ${count}`);
    }
    return lines.join('\n');
  }
}

export interface MetricsTarget {
  /** `127.0.0.1:PORT`, for a scrape config. */
  hostPort: string;
  /** While a path is listed here, it answers 503 (a scrape that fails: `up == 0`). */
  failing: Set<string>;
  close(): Promise<void>;
}

/** Serves `families[path]` at each path. */
export async function startMetricsTarget(families: Record<string, readonly { render(): string }[]>): Promise<MetricsTarget> {
  const failing = new Set<string>();
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const served = families[path];
    if (served === undefined || failing.has(path)) {
      res.writeHead(served === undefined ? 404 : 503).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(`${served.map((family) => family.render()).join('\n')}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    hostPort: `127.0.0.1:${port}`,
    failing,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
