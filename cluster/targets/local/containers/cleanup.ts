import { listContainersByLabel, MANAGED_BY_LABEL, MANAGED_BY_VALUE, removeContainer, RUN_ID_LABEL } from './docker.ts';

/**
 * Removes containers the harness started, found by label rather than by memory: this works after
 * a SIGKILL of the harness, when nothing but Docker's labels remembers them. With `runId`, only
 * that run's; without, every container labelled `resilience.managed-by=hastecrm-resilience`.
 * Returns the ids removed; failures are collected and thrown together once all were attempted.
 */
export async function removeRunContainers(runId?: string): Promise<string[]> {
  const ids = await listContainersByLabel({ [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, ...(runId !== undefined ? { [RUN_ID_LABEL]: runId } : {}) });
  const errors: Error[] = [];
  for (const id of ids) {
    try {
      await removeContainer(id);
    } catch (error) {
      errors.push(error as Error);
    }
  }
  if (errors.length > 0) throw new AggregateError(errors, `could not remove ${errors.length} of ${ids.length} harness containers: ${errors.map((e) => e.message).join('; ')}`);
  return ids;
}
