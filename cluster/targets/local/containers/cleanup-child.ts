/**
 * Test helper run as a separate harness process by cleanup.test.ts: starts a Redis container
 * (recording it in the ledger of STATE_DIR under RUN_ID), prints its id, then waits to be killed
 * with SIGKILL, so nothing of its own teardown runs.
 */
import { Ledger } from '../../../../chaos/ledger.ts';
import { startRedisContainer } from './services.ts';

const stateDir = process.env.STATE_DIR;
const runId = process.env.RUN_ID;
if (!stateDir || !runId) throw new Error('cleanup-child needs STATE_DIR and RUN_ID in its environment');
const redis = await startRedisContainer({ runId, ledger: Ledger.open(stateDir) });
process.stdout.write(`started ${redis.container.id}\n`);
// Bounded: the test kills us long before this; a forgotten child still ends on its own.
setTimeout(() => process.exit(0), 120_000);
