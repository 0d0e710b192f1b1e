import { createApi, type Api } from './app.ts';
import { ConfigError, loadConfig, type ApiConfig } from './config.ts';
import { createLogger, errorMessage } from './log.ts';

/**
 * Entry point: `node --import tsx cluster/apps/api/server.ts`, configured by environment only
 * (see config.ts). Exit codes: 0 after a graceful shutdown (SIGTERM, SIGINT, or the parent
 * process gone), 1 when it cannot start or shut down cleanly, 2 for an invalid environment.
 *
 * The API imports nothing from the harness, so this folder can be built into an image alone.
 */

const EXIT_OK = 0;
const EXIT_FAILED = 1;
/** Same meaning as the harness's ExitCode.InvalidConfig. */
const EXIT_INVALID_CONFIG = 2;
/** How often the orphan guard looks at the parent process id. */
const ORPHAN_CHECK_INTERVAL_MS = 1_000;

let config: ApiConfig;
try {
  config = loadConfig(process.env);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`hastecrm-api: ${error.message}\n`);
  process.exit(EXIT_INVALID_CONFIG);
}

const log = createLogger(config.replicaName);
let api: Api;
try {
  api = await createApi(config, { log });
} catch (error) {
  log.error('cannot start', { error: errorMessage(error), host: config.host, port: config.port });
  process.exit(EXIT_FAILED);
}
log.info('listening', { url: api.url, pid: process.pid });

let shuttingDown = false;
function shutdown(reason: string): void {
  if (shuttingDown) {
    log.info('second stop request; exiting now', { reason });
    process.exit(EXIT_FAILED);
  }
  shuttingDown = true;
  log.info('shutting down', { reason, graceMs: config.shutdownGraceMs });
  api.close().then(
    () => {
      log.info('stopped');
      process.exit(EXIT_OK);
    },
    (error: unknown) => {
      log.error('shutdown failed', { error: errorMessage(error) });
      process.exit(EXIT_FAILED);
    },
  );
}

process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

// Orphan guard: when the harness dies by SIGKILL it cannot stop us; we are re-parented (to init or
// a subreaper), so a changed parent pid means nobody will ever stop this replica but itself.
const parentAtStart = process.ppid;
if (parentAtStart > 1) {
  setInterval(() => {
    if (process.ppid !== parentAtStart && !shuttingDown) shutdown(`parent process ${parentAtStart} is gone`);
  }, ORPHAN_CHECK_INTERVAL_MS).unref();
}
