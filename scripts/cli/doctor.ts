import { findBinary, INSTALL_HINTS, type BinaryName } from '../../cluster/targets/local/binaries.ts';
import { describeRuntimes, type SelectRuntimeOptions } from '../../cluster/targets/local/containers/runtime.ts';

/** What `auto` picks for one local-target dependency, and why (`describeRuntimes`). */
export type RuntimeRow = Awaited<ReturnType<typeof describeRuntimes>>[number];

export interface DoctorReport {
  binaries: { name: BinaryName; path: string | undefined; purpose: string }[];
  capabilities: { name: string; ok: boolean; needs: BinaryName[] }[];
  /** Per dependency of the local target: process, container or none (with the fix). */
  runtimes: RuntimeRow[];
}

export interface DoctorOptions {
  /** Default: `findBinary` on PATH. */
  lookup?: (name: BinaryName) => string | undefined;
  /** Passed to `describeRuntimes` (e.g. another PATH); default: this machine as is. */
  runtime?: SelectRuntimeOptions;
}

const PURPOSE: Record<BinaryName, string> = {
  prometheus: 'scrapes metrics; every SLO is judged from it',
  promtool: 'checks the Prometheus config and alert rules before a run',
  postgres: 'hasteCRM data tier on the local target',
  initdb: 'creates the PostgreSQL data directory',
  'redis-server': 'hasteCRM cache on the local target',
  'stress-ng': 'CPU and memory hog experiments on the local target',
  docker: 'kind clusters and containerised dependencies',
  kind: 'the kind target (Kubernetes in Docker)',
  k6: 'real k6 as load driver',
  kubectl: 'the kind and existing targets',
};

const CAPABILITIES: { name: string; needs: BinaryName[] }[] = [
  { name: 'target local (processes)', needs: ['prometheus', 'postgres', 'initdb', 'redis-server'] },
  { name: 'local CPU/memory hog experiments', needs: ['stress-ng'] },
  { name: 'target kind', needs: ['docker', 'kind', 'kubectl'] },
  { name: 'target existing (kubeconfig)', needs: ['kubectl'] },
  { name: 'load driver: embedded engine', needs: [] },
  { name: 'load driver: k6', needs: ['k6'] },
];

/**
 * Which binaries are present, what the harness can therefore run here, and where the local
 * target's dependencies would run with runtime `auto` (asks Docker once, bounded at 3 s). Starts
 * nothing.
 */
export async function runDoctor(options: DoctorOptions = {}): Promise<DoctorReport> {
  const lookup = options.lookup ?? ((name: BinaryName) => findBinary(name));
  const binaries = (Object.keys(PURPOSE) as BinaryName[]).map((name) => ({ name, path: lookup(name), purpose: PURPOSE[name] }));
  const present = new Set(binaries.filter((b) => b.path).map((b) => b.name));
  const runtimes = await describeRuntimes({}, options.runtime ?? {});
  return { binaries, capabilities: CAPABILITIES.map((c) => ({ ...c, ok: c.needs.every((n) => present.has(n)) })), runtimes };
}

/** The local target can run when every dependency has a runtime (a binary or a container). */
export function localTargetRunnable(report: DoctorReport): boolean {
  return report.runtimes.length > 0 && report.runtimes.every((row) => row.runtime !== 'none');
}

export function formatDoctor(report: DoctorReport): string {
  const lines = ['Binaries:'];
  for (const b of report.binaries) {
    lines.push(`  ${b.path ? '✔' : '✖'} ${b.name.padEnd(13)} ${b.path ?? `missing: ${INSTALL_HINTS[b.name]}`}`);
    lines.push(`    ${b.purpose}`);
  }
  lines.push('', 'What can run here:');
  const missing = new Set(report.binaries.filter((b) => !b.path).map((b) => b.name));
  for (const c of report.capabilities) {
    const lacking = c.needs.filter((n) => missing.has(n));
    lines.push(`  ${c.ok ? '✔' : '✖'} ${c.name}${c.ok ? '' : ` (needs ${lacking.join(', ')})`}`);
  }
  lines.push('', 'Local target dependencies (runtime "auto" picks):');
  for (const row of report.runtimes) {
    lines.push(`  ${row.runtime === 'none' ? '✖' : '✔'} ${row.service.padEnd(11)} ${row.runtime.padEnd(9)} ${row.reason}`);
  }
  return lines.join('\n');
}
