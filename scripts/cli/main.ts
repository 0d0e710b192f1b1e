import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { Ledger } from '../../chaos/ledger.ts';
import { ConfigError } from '../config/errors.ts';
import { DEFAULT_CONFIG_FILE, loadConfig } from '../config/load.ts';
import type { ResolvedConfig } from '../config/resolve.ts';
import { ExitCode } from '../exit-codes.ts';
import { redactText } from '../../reports/redact.ts';
import { runGateCommand } from '../../reports/gate.ts';
import { consoleReporter } from '../../reports/console-reporter.ts';
import { readRunResult, renderRunDir, ResultFileError } from '../../reports/render.ts';
import { buildPlan } from '../pipeline/plan.ts';
import { executeRun } from '../pipeline/run.ts';
import { LOAD_CHOICES, type LoadChoice } from '../pipeline/k6-driver.ts';
import { RunAbort } from '../pipeline/verdict.ts';
import { parseDuration } from '../util/duration.ts';
import { clusterCommand } from './cluster-command.ts';
import { ClusterExistsError, InvalidEncryptionConfigError } from '../../cluster/targets/kind/kind-cluster.ts';
import { UnsafeContextError } from '../../cluster/targets/kind/context-safety.ts';
import { MissingBinaryError } from '../../cluster/targets/local/binaries.ts';
import { formatDoctor, localTargetRunnable, runDoctor } from './doctor.ts';
import { describeK6 } from '../pipeline/k6-driver.ts';
import { removeRunContainers } from '../../cluster/targets/local/containers/cleanup.ts';
import { dockerAnswers } from '../../cluster/targets/local/containers/docker.ts';
import { formatValidateReport, validatePaths } from './validate.ts';
import { EXPORT_FORMATS, exportSlos, type ExportFormat } from '../../slo/export.ts';
import { formatPlan } from './plan-printer.ts';
import { ConsoleProgress } from './progress.ts';

interface CommonOptions {
  config: string;
  reportsDir?: string;
  stateDir?: string;
  historyDir?: string;
}

interface RunFlags extends CommonOptions {
  rate?: string;
  duration?: string;
  allowAllPods?: boolean;
  load?: LoadChoice;
  allowContext?: string;
}

const program = new Command()
  .name('resilience')
  .description('hasteCRM resilience harness: load + chaos + SLOs judged from Prometheus, per phase.')
  .exitOverride()
  .showHelpAfterError('(run with --help for usage)');

const configOption = new Option('-c, --config <file>', 'config file').default(DEFAULT_CONFIG_FILE);
const reportsOption = new Option('--reports-dir <dir>', 'where run folders are written (overrides reportsDir)');
const stateOption = new Option('--state-dir <dir>', 'where the ledger lives (overrides stateDir)');
const allowContextOption = new Option('--allow-context <name>', 'kind target: also allow modifying this kube context (only kind-* contexts are used otherwise); type its exact name');
const loadOption = new Option('--load <driver>', 'load driver: auto (k6 when it runs here, else the embedded engine), k6 (exit 4 when k6 cannot run), engine').choices(LOAD_CHOICES).default('auto');

program
  .command('run')
  .description('provision the target, load it, inject the chaos schedule, judge the SLOs per phase, write the reports')
  .argument('<suite>', 'suite name from the config, e.g. api')
  .addOption(configOption)
  .addOption(reportsOption)
  .addOption(stateOption)
  .option('--history-dir <dir>', 'where runs are indexed for `resilience gate` (overrides historyDir)')
  .option('--rate <n>', 'override the scenario rate (iterations per second)')
  .option('--duration <d>', 'override the load duration, e.g. 30s')
  .option('--allow-all-pods', 'allow experiments with PODS_AFFECTED_PERC=100 (every matching pod at once: a full outage)')
  .addOption(loadOption)
  .addOption(allowContextOption)
  .addHelpText('after', '\nExit codes: 0 pass · 1 SLO failed · 2 invalid config · 3 inconclusive · 4 environment · 5 cleanup failed · 130 interrupted')
  .action(async (suite: string, flags: RunFlags) => {
    const config = applyOverrides(await loadConfig(flags.config), flags, suite);
    const plan = await buildPlan(config, suite, { allowAllPods: flags.allowAllPods === true, load: flags.load ?? 'auto', ...(flags.allowContext ? { allowContext: flags.allowContext } : {}) });
    const progress = new ConsoleProgress();
    const controller = new AbortController();
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      signals += 1;
      if (signals === 1) {
        progress.warn(`${signal} received: stopping and cleaning up (send it twice more to exit at once; \`resilience cleanup\` then reverts what is left)`);
        controller.abort(new RunAbort('interrupted', `${signal} received`));
      } else if (signals >= 3) {
        progress.warn('exiting without finishing cleanup: run `resilience cleanup`');
        process.exit(ExitCode.Interrupted);
      } else {
        progress.warn('cleanup in progress…');
      }
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const { result, runDir, exitCode } = await executeRun(plan, { signal: controller.signal, progress });
    await consoleReporter().write(result, runDir);
    process.exit(exitCode);
  });

program
  .command('plan')
  .description('print the validated plan: target, services, chaos schedule, phases, SLO queries; starts nothing')
  .argument('<suite>', 'suite name from the config')
  .addOption(configOption)
  .option('--rate <n>', 'override the scenario rate')
  .option('--duration <d>', 'override the load duration')
  .option('--allow-all-pods', 'allow experiments with PODS_AFFECTED_PERC=100')
  .addOption(loadOption)
  .addOption(allowContextOption)
  .option('--json', 'print the plan as JSON')
  .action(async (suite: string, flags: RunFlags & { json?: boolean }) => {
    const config = applyOverrides(await loadConfig(flags.config), flags, suite);
    const plan = await buildPlan(config, suite, { allowAllPods: flags.allowAllPods === true, load: flags.load ?? 'auto', ...(flags.allowContext ? { allowContext: flags.allowContext } : {}) });
    if (flags.json) {
      const { config: _config, scenario, ...rest } = plan;
      console.log(redactText(JSON.stringify({ ...rest, scenario: { ...scenario, cumulativeWeights: undefined, requests: scenario.requests.map((r) => ({ name: r.name, method: r.method, weight: r.weight })) } }, null, 2)));
    } else console.log(redactText(formatPlan(plan)));
  });

program
  .command('doctor')
  .description('show which binaries are present, which targets and load drivers can run here, and whether the local target runs its dependencies as processes or containers')
  .action(async () => {
    const report = await runDoctor();
    console.log(formatDoctor(report));
    // Whether `--load auto` picks real k6, and why (it needs k6 >= 0.57 for TypeScript scenarios).
    console.log(`\nLoad driver: ${await describeK6()}`);
    process.exitCode = localTargetRunnable(report) ? ExitCode.Pass : ExitCode.Environment;
  });

program
  .command('cleanup')
  .description('revert what the ledger holds from runs that did not clean up (killed harness, crash), and remove their containers')
  .addOption(configOption)
  .addOption(stateOption)
  .option('--all-containers', 'also remove every container labelled resilience.managed-by=hastecrm-resilience, whatever run started it (stops runs in progress elsewhere)')
  .action(async (flags: CommonOptions & { allContainers?: boolean }) => {
    const stateDir = flags.stateDir ? path.resolve(flags.stateDir) : (await loadConfig(flags.config)).stateDir;
    const ledger = Ledger.open(stateDir);
    const orphans = ledger.orphans();
    const active = ledger.entries().length - orphans.length;
    if (active > 0) console.log(`${active} entr${active === 1 ? 'y belongs' : 'ies belong'} to a run still in progress; left alone.`);
    let failed = 0;
    if (orphans.length === 0) console.log(`nothing to clean up in ${ledger.file}`);
    else {
      const report = await ledger.revert(orphans);
      for (const e of report.reverted) console.log(`✔ reverted ${e.description}`);
      for (const f of report.failed) console.log(`✖ ${f.entry.description}: ${f.error}`);
      failed += report.failed.length;
    }
    // Containers are also found by their run-id label (ledger entries name them before they exist);
    // with --all-containers, every harness container, e.g. when the state dir itself was lost.
    const runIds = flags.allContainers ? undefined : [...new Set(orphans.map((o) => o.runId))];
    if (runIds === undefined || runIds.length > 0) failed += await removeLabelledContainers(runIds);
    process.exitCode = failed > 0 ? ExitCode.CleanupFailed : ExitCode.Pass;
  });

program
  .command('export')
  .description("write a suite's SLOs in another tool's format, so the harness, the canary and production alerting judge by the same numbers")
  .argument('<what>', 'what to export: slo')
  .addOption(new Option('--format <format>', 'target format').choices([...EXPORT_FORMATS]).makeOptionMandatory())
  .option('--suite <suite>', 'suite whose SLOs to export', 'api')
  .option('--prometheus-url <url>', "Prometheus as Flagger or Litmus reach it (default http://prometheus.monitoring:9090)")
  .addOption(configOption)
  .action(async (what: string, flags: { format: ExportFormat; suite: string; prometheusUrl?: string; config: string }) => {
    if (what !== 'slo') throw new ConfigError('export', [{ path: 'export <what>', given: JSON.stringify(what), expected: 'only "slo" can be exported' }]);
    const config = await loadConfig(flags.config);
    const suite = config.suites[flags.suite];
    if (!suite) throw new ConfigError(config.configFile, [{ path: `suites.${flags.suite}`, given: 'missing', expected: `a suite defined in the config; defined: ${Object.keys(config.suites).join(', ')}` }]);
    process.stdout.write(exportSlos(suite.slos, flags.format, flags.prometheusUrl ? { prometheusUrl: flags.prometheusUrl } : {}));
  });

program.addCommand(clusterCommand({ config: DEFAULT_CONFIG_FILE }));

program
  .command('report')
  .description('render the views (index.html, junit.xml, summary.md, grafana-dashboard.json) again from a run folder\'s result.json')
  .argument('<run-dir>', 'a run folder, e.g. reports/runs/api-20261126-110309-2e2b')
  .action(async (dir: string) => {
    const runDir = path.resolve(dir);
    let outcome;
    try {
      outcome = await renderRunDir(runDir);
    } catch (error) {
      if (error instanceof ResultFileError) {
        console.error(redactText(error.message));
        process.exitCode = ExitCode.InvalidConfig;
        return;
      }
      throw error;
    }
    for (const w of outcome.written) console.log(`✔ ${w.reporter}: ${path.relative(process.cwd(), w.file) || w.file}`);
    for (const f of outcome.failed) console.log(`✖ ${f.reporter}: ${f.error}`);
    await consoleReporter().write(await readRunResult(path.join(runDir, 'result.json')), runDir);
    // A view that could not be written means the run folder is not what CI expects.
    process.exitCode = outcome.failed.length > 0 ? ExitCode.Environment : ExitCode.Pass;
  });

program
  .command('gate')
  .description('compare a run with the last passing runs of its suite and fail on a regression larger than their spread')
  .requiredOption('--baseline <dir>', 'history folder (historyDir), or a reports folder of run folders')
  .option('--last <n>', 'passing runs to compare with', '5')
  .option('--run <run-dir>', 'run folder or its result.json (default: the newest in reportsDir)')
  .option('--record', 'also record the run and the gate outcome in the history')
  .addOption(configOption)
  .addOption(reportsOption)
  .addHelpText('after', '\nExit codes: 0 no regression · 1 regression or SLO failure · 2 bad arguments · 3 inconclusive')
  .action(async (flags: { baseline: string; last: string; run?: string; record?: boolean; config: string; reportsDir?: string }) => {
    const reportsDir = flags.run ? undefined : (flags.reportsDir ?? (await loadConfig(flags.config)).reportsDir);
    const { exitCode, output } = await runGateCommand({
      baselineDir: flags.baseline,
      last: flags.last,
      ...(flags.run ? { runDir: flags.run } : {}),
      ...(reportsDir ? { reportsDir } : {}),
      ...(flags.record ? { record: true } : {}),
    });
    process.stdout.write(redactText(output));
    process.exitCode = exitCode;
  });

program
  .command('validate')
  .description('check manifests and Prometheus rule files offline: schemas, API versions, Pod Security, quotas, disruption budgets, references; promtool errors and alerts that can never fire')
  .argument('[paths...]', 'files or folders to check', ['cluster/addons/prometheus', 'cluster/manifests/base', 'cluster/manifests/overlays/kind'])
  .option('--strict', 'warnings fail too')
  .addHelpText('after', '\nExit codes: 0 nothing wrong · 2 errors found (or warnings with --strict) · 4 promtool or kubectl missing')
  .action(async (paths: string[], flags: { strict?: boolean }) => {
    const report = await validatePaths(paths, flags);
    console.log(formatValidateReport(report));
    process.exitCode = report.exitCode;
  });

/** Removes the containers labelled with these run ids (all of ours when undefined), prints what happened, returns the failures. */
async function removeLabelledContainers(runIds: string[] | undefined): Promise<number> {
  const docker = await dockerAnswers(3_000);
  if (!docker.ok) {
    console.log(`no harness containers checked: Docker does not answer (${docker.reason})`);
    return 0;
  }
  try {
    const removed = runIds === undefined ? await removeRunContainers() : (await Promise.all(runIds.map((id) => removeRunContainers(id)))).flat();
    for (const id of removed) console.log(`✔ removed container ${id.slice(0, 12)}`);
    if (removed.length === 0) console.log('no harness containers left');
    return 0;
  } catch (error) {
    console.log(`✖ ${(error as Error).message}`);
    return 1;
  }
}

function applyOverrides(config: ResolvedConfig, flags: RunFlags, suite: string): ResolvedConfig {
  const out: ResolvedConfig = { ...config, suites: { ...config.suites } };
  if (flags.reportsDir) out.reportsDir = path.resolve(flags.reportsDir);
  if (flags.stateDir) out.stateDir = path.resolve(flags.stateDir);
  if (flags.historyDir) out.historyDir = path.resolve(flags.historyDir);
  const s = out.suites[suite];
  if (!s) return out;
  const load = { ...s.load };
  if (flags.rate !== undefined) {
    const rate = Number(flags.rate);
    if (!(Number.isFinite(rate) && rate > 0)) throw new ConfigError('--rate', [{ path: '--rate', given: JSON.stringify(flags.rate), expected: 'a positive number of iterations per second' }]);
    load.rate = rate;
  }
  if (flags.duration !== undefined) {
    try {
      load.durationMs = parseDuration(flags.duration);
    } catch (error) {
      throw new ConfigError('--duration', [{ path: '--duration', given: JSON.stringify(flags.duration), expected: (error as Error).message }]);
    }
  }
  out.suites[suite] = { ...s, load };
  return out;
}


try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exit(error.exitCode === 0 ? 0 : ExitCode.InvalidConfig);
  }
  if (error instanceof ConfigError || error instanceof ClusterExistsError || error instanceof InvalidEncryptionConfigError || error instanceof UnsafeContextError) {
    console.error(redactText(error.message));
    process.exit(ExitCode.InvalidConfig);
  }
  if (error instanceof MissingBinaryError) {
    console.error(error.message);
    process.exit(ExitCode.Environment);
  }
  console.error(redactText(error instanceof Error ? (error.stack ?? error.message) : String(error)));
  process.exit(ExitCode.Environment);
}
