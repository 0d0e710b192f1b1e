/**
 * Which kube contexts the harness may modify or inject faults into. A kind cluster's context is
 * always `kind-<cluster name>`; anything else may be a shared or production cluster, so it needs
 * the user to name it explicitly (`--allow-context <name>`). A blanket "allow any" switch is
 * deliberately not offered: the user must type the context they mean.
 */

/** The context kind writes for a cluster: `kind-<name>`. */
export function kindContextName(clusterName: string): string {
  return `kind-${clusterName}`;
}

/** True for contexts kind creates. */
export function isKindContext(contextName: string): boolean {
  return contextName.startsWith('kind-') && contextName.length > 'kind-'.length;
}

/** The current context is not one the harness may touch. Maps to exit code 2 (usage). */
export class UnsafeContextError extends Error {
  constructor(readonly contextName: string) {
    super(
      contextName === ''
        ? 'no current kube context: nothing to run against (create one with `resilience cluster up`)'
        : `refusing to modify kube context "${contextName}": only kind-* contexts are used without asking. ` +
          `If this cluster is meant for chaos experiments, run again with --allow-context ${contextName}`,
    );
    this.name = 'UnsafeContextError';
  }
}

export interface ContextAllowance {
  /** The one non-kind context the user allowed (`--allow-context`). Must match exactly. */
  allowContext?: string;
}

/**
 * Throws UnsafeContextError unless `contextName` is a kind context or exactly the allowed one.
 * Call before any write to a cluster (apply, chaos, teardown), not only before chaos.
 */
export function assertChaosAllowed(contextName: string, options: ContextAllowance = {}): void {
  if (isKindContext(contextName)) return;
  if (options.allowContext !== undefined && options.allowContext !== '' && options.allowContext === contextName) return;
  throw new UnsafeContextError(contextName);
}
