/**
 * The local ingress as a process of its own: `node --import tsx cluster/targets/local/ingress-main.ts`.
 *
 * Configuration comes from environment variables only (see `INGRESS_ENV` in ingress.ts;
 * `INGRESS_UPSTREAMS` is required). Contract with the supervisor that starts it:
 * - exit 2 (InvalidConfig) before listening when a variable is invalid; stderr names it and what
 *   it allows;
 * - exit 4 (Environment) when it cannot listen (port taken);
 * - once listening, prints one line `ingress listening on <url> …` to stdout; readiness is
 *   `GET /-/ready`;
 * - SIGTERM or SIGINT: stops accepting, lets in-flight requests finish up to
 *   INGRESS_SHUTDOWN_GRACE_MS, exits 0; a second signal exits at once (130);
 * - exits by itself (0) when its parent dies (the harness was SIGKILLed), so no ingress outlives
 *   the run.
 */
import { ExitCode } from '../../../scripts/exit-codes.ts';
import { createIngress, ingressConfigFromEnv, IngressConfigError, ISTIO_ATTEMPTS_SEMANTICS } from './ingress.ts';
import type { Ingress, IngressConfig } from './ingress.ts';

const ORPHAN_CHECK_INTERVAL_MS = 500;

function log(line: string): void {
  process.stdout.write(`${new Date().toISOString()} ingress: ${line}\n`);
}

async function main(): Promise<void> {
  let config: IngressConfig;
  try {
    config = ingressConfigFromEnv(process.env);
  } catch (error) {
    if (!(error instanceof IngressConfigError)) throw error;
    process.stderr.write(`ingress: invalid configuration: ${error.message}\n`);
    process.exit(ExitCode.InvalidConfig);
  }

  const parentAtStart = process.ppid;
  let ingress: Ingress;
  try {
    ingress = await createIngress({ ...config, log });
  } catch (error) {
    process.stderr.write(`ingress: cannot listen on ${config.host}:${config.port}: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(ExitCode.Environment);
  }
  log(
    `listening on ${ingress.url} → ${config.upstreams.join(', ')}; timeout ${config.timeoutMs} ms, ` +
      `attempts ${config.attempts} (${ISTIO_ATTEMPTS_SEMANTICS}), per-try timeout ${config.perTryTimeoutMs} ms, retryOn ${config.retryOn}`,
  );

  let stopping = false;
  const stop = (reason: string, exitCode: number): void => {
    if (stopping) return;
    stopping = true;
    log(`${reason}: closing (grace ${config.shutdownGraceMs} ms)`);
    ingress.close().then(
      () => process.exit(exitCode),
      (error: unknown) => {
        process.stderr.write(`ingress: close failed: ${String(error)}\n`);
        process.exit(ExitCode.CleanupFailed);
      },
    );
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(ExitCode.Interrupted);
      stop(signal, ExitCode.Pass);
    });
  }

  // Orphan guard: a SIGKILLed harness cannot stop us; when our parent changes (re-parented to
  // init or a subreaper), nobody will, so leave.
  const orphanCheck = setInterval(() => {
    if (process.ppid !== parentAtStart || process.ppid === 1) stop(`parent ${parentAtStart} is gone`, ExitCode.Pass);
  }, ORPHAN_CHECK_INTERVAL_MS);
  orphanCheck.unref();
}

main().catch((error: unknown) => {
  process.stderr.write(`ingress: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(ExitCode.Environment);
});
