import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { Ledger } from '../../../../chaos/ledger.ts';
import { waitUntil } from '../../../../scripts/util/wait.ts';
import { removeRunContainers } from './cleanup.ts';
import { docker, inspectContainer, listContainersByLabel, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from './docker.ts';
import { describeWithDocker } from './docker-test-support.ts';
import { ensureImage } from './images.ts';

const CHILD = fileURLToPath(new URL('./cleanup-child.ts', import.meta.url));
const children: ChildProcess[] = [];
const dirs: string[] = [];
const runIds: string[] = [];

afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const runId of runIds.splice(0)) await removeRunContainers(runId);
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Starts the child harness, waits for its container id, then SIGKILLs it. */
async function harnessKilledAfterStartingAContainer(runId: string, stateDir: string): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD], { env: { ...process.env, STATE_DIR: stateDir, RUN_ID: runId }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const id = await waitUntil(
    () => {
      if (child.exitCode !== null) throw new Error(`the child harness exited early: ${out}`);
      return /started ([0-9a-f]{64})/.exec(out)?.[1];
    },
    { what: 'the child harness to start its container', timeoutMs: 40_000, intervalMs: 100 },
  );
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  expect((await inspectContainer(id)).running).toBe(true); // the SIGKILL left it behind
  return id;
}

describeWithDocker('cleanup of containers after a SIGKILL of the harness', () => {
  it('removeRunContainers finds the leftover by its labels and removes it', async () => {
    const runId = `cleanup-label-${process.pid}`;
    runIds.push(runId);
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'containers-cleanup-'));
    dirs.push(stateDir);
    const id = await harnessKilledAfterStartingAContainer(runId, stateDir);
    expect(await removeRunContainers(runId)).toEqual([id]);
    expect(await listContainersByLabel({ 'resilience.run-id': runId })).toEqual([]);
    expect(await removeRunContainers(runId)).toEqual([]); // nothing left: idempotent
  });

  it("the ledger's orphan entry (what `resilience cleanup` replays) removes the container", async () => {
    const runId = `cleanup-ledger-${process.pid}`;
    runIds.push(runId);
    const stateDir = mkdtempSync(path.join(os.tmpdir(), 'containers-cleanup-'));
    dirs.push(stateDir);
    const id = await harnessKilledAfterStartingAContainer(runId, stateDir);
    const ledger = Ledger.open(stateDir);
    const orphans = ledger.orphans();
    expect(orphans.map((e) => e.revert)).toMatchObject([{ type: 'container-remove', id }]);
    expect(JSON.stringify(orphans[0]?.revert)).toContain(runId); // the name, for a revert before the id was known
    const report = await ledger.revert(orphans);
    expect(report.failed).toEqual([]);
    expect(ledger.entries()).toEqual([]);
    await expect(inspectContainer(id)).rejects.toThrow(/No such container/i);
  });

  it('removes only containers labelled managed-by, not others of the same run id', async () => {
    const runId = `cleanup-filter-${process.pid}`;
    runIds.push(runId);
    const { image } = await ensureImage('redis');
    const ours = await docker(['create', '--label', `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`, '--label', `resilience.run-id=${runId}`, image]);
    const foreign = await docker(['create', '--label', `resilience.run-id=${runId}`, image]);
    try {
      expect(await removeRunContainers(runId)).toEqual([ours]);
      expect((await inspectContainer(foreign)).id).toBe(foreign);
    } finally {
      await docker(['rm', '--force', foreign]);
    }
  });
});
