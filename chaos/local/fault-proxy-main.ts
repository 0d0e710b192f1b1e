/**
 * The fault proxy as a process of its own: `node --import tsx chaos/local/fault-proxy-main.ts`.
 *
 * Configuration comes from environment variables only (see `FAULT_PROXY_ENV` in fault-proxy.ts;
 * `FAULT_PROXY_TARGET` is required). Contract with the supervisor that starts it:
 * - exit 2 (InvalidConfig) before listening when a variable is invalid; stderr names it;
 * - exit 4 (Environment) when it cannot listen (port taken);
 * - once listening, prints one line `fault-proxy listening on 127.0.0.1:P → HOST:Q …` to stdout;
 * - SIGUSR1 switches the configured fault on, SIGUSR2 switches it off (FAULT_PROXY_ACTIVE says
 *   which at start); each prints a line with the counters, so the log proves the effect;
 * - SIGTERM or SIGINT: closes every connection and exits 0;
 * - exits by itself (0) when its parent dies (the harness was SIGKILLed), so no proxy outlives
 *   the run and no fault stays injected.
 */
import { ExitCode } from '../../scripts/exit-codes.ts';
import { faultProxyConfigFromEnv, FaultProxyConfigError, startFaultProxy } from './fault-proxy.ts';
import type { FaultProxy, FaultProxyProcessConfig } from './fault-proxy.ts';

const ORPHAN_CHECK_INTERVAL_MS = 500;

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString()} fault-proxy: ${line}\n`);
}

async function main(): Promise<void> {
  let config: FaultProxyProcessConfig;
  try {
    config = faultProxyConfigFromEnv(process.env);
  } catch (error) {
    if (!(error instanceof FaultProxyConfigError)) throw error;
    process.stderr.write(`fault-proxy: invalid configuration: ${error.message}\n`);
    process.exit(ExitCode.InvalidConfig);
  }

  const parentAtStart = process.ppid;
  let proxy: FaultProxy;
  try {
    proxy = await startFaultProxy({ listenPort: config.listenPort, target: config.target, fault: config.activeAtStart ? config.fault : null });
  } catch (error) {
    process.stderr.write(`fault-proxy: cannot listen on 127.0.0.1:${config.listenPort}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(ExitCode.Environment);
  }
  const describe = (): string => `fault ${JSON.stringify(proxy.fault())}, stats ${JSON.stringify(proxy.stats())}`;
  log(`listening on 127.0.0.1:${proxy.port} → ${config.target.host}:${config.target.port}; ${describe()}`);

  process.on('SIGUSR1', () => {
    proxy.setFault(config.fault);
    log(`fault on; ${describe()}`);
  });
  process.on('SIGUSR2', () => {
    proxy.setFault(null);
    log(`fault off; ${describe()}`);
  });

  let stopping = false;
  const stop = (reason: string): void => {
    if (stopping) return;
    stopping = true;
    log(`${reason}: closing; ${describe()}`);
    proxy.close().then(
      () => process.exit(ExitCode.Pass),
      (error: unknown) => {
        process.stderr.write(`fault-proxy: close failed: ${String(error)}\n`);
        process.exit(ExitCode.CleanupFailed);
      },
    );
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(ExitCode.Interrupted);
      stop(signal);
    });
  }

  // Orphan guard: a SIGKILLed harness cannot stop us; when our parent changes (re-parented to
  // init or a subreaper), nobody will, so leave and take the fault with us.
  const orphanCheck = setInterval(() => {
    if (process.ppid !== parentAtStart || process.ppid === 1) stop(`parent ${parentAtStart} is gone`);
  }, ORPHAN_CHECK_INTERVAL_MS);
  orphanCheck.unref();
}

main().catch((error: unknown) => {
  process.stderr.write(`fault-proxy: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(ExitCode.Environment);
});
