import { formatLabelSelector } from '../litmus/experiments.ts';
import type { DataTierPod } from '../../cluster/targets/local/local-target.ts';
import type { Pod } from '../../cluster/targets/local/replica-set.ts';
import type { ResolvedExperiment } from '../../scripts/config/resolve.ts';
import type { ExperimentRecord, PodControl } from '../types.ts';
import { runContainerKill, type ContainerControl } from './container-kill.ts';
import { runDataTierContainerKill, runDockerPause } from './docker-faults.ts';
import type { FaultProxy } from './fault-proxy.ts';
import type { LossyHop } from './netns.ts';
import { runNetworkFault, type NetworkExperiment } from './network.ts';
import { runPause } from './pause.ts';
import { runPodDelete, type InjectorContext } from './pod-delete.ts';
import { runCpuHog, runMemoryHog, type ChaosTarget } from './stress.ts';
import { mergeRecords, notStarted, pickVictims } from './victims.ts';

/** Everything the local injectors act on: the API's ReplicaSet, the proxies in front of it, the data tier. */
export interface LocalChaosSurface {
  replicas: PodControl & ContainerControl;
  faultProxy(slot: number): FaultProxy | undefined;
  lossyHop(slot: number): LossyHop | undefined;
  dataTierPods(selector: Record<string, string>): DataTierPod[];
  /** After a data-tier container was restarted: read its host PID again. */
  refreshDataTierPid?(name: string): Promise<void>;
}

/** What each experiment can hit on the local target, for `resilience plan` and for refusing impossible plans early. */
export const LOCAL_SUPPORT: Record<ResolvedExperiment['experiment'], { replicas: boolean; dataTier: boolean; how: string }> = {
  'pod-delete': { replicas: true, dataTier: false, how: 'SIGTERM (SIGKILL with FORCE) to the replica; the ReplicaSet starts a new pod' },
  'container-kill': { replicas: true, dataTier: false, how: 'SIGNAL to the replica; its container restarts in place (a data-tier container: docker kill, then started again)' },
  'pod-cpu-hog': { replicas: true, dataTier: true, how: "stress-ng --cpu inside the process's cgroup (v1)" },
  'pod-memory-hog': { replicas: true, dataTier: true, how: "stress-ng --vm inside the process's memory cgroup" },
  'pod-network-latency': { replicas: true, dataTier: false, how: 'the fault proxy between the ingress and the replica delays replies' },
  'pod-network-loss': { replicas: true, dataTier: false, how: "iptables drops that share of packets in the replica's own network namespace (root); else the fault proxy black-holes that share of new connections" },
  'pod-network-partition': { replicas: true, dataTier: false, how: 'the fault proxy cuts every connection from the ingress' },
  'pod-pause': { replicas: true, dataTier: true, how: 'the cgroup freezer freezes the process' },
  'node-drain': { replicas: false, dataTier: false, how: 'not available on the local target: there are no nodes (Kubernetes only)' },
};

/**
 * Runs one experiment on the local target with the injector that does what Litmus's experiment
 * does there. Every injector writes the ledger before it injects and proves its effect.
 */
export async function runLocalExperiment(spec: ResolvedExperiment, surface: LocalChaosSurface, ctx: InjectorContext): Promise<ExperimentRecord> {
  const env = spec.definition.env as Record<string, string | number | boolean>;
  switch (spec.experiment) {
    case 'pod-delete':
      return runPodDelete({ ...spec, experiment: 'pod-delete' }, surface.replicas, ctx);
    case 'container-kill': {
      // The data tier only when it runs in containers: Docker restarts them, as the kubelet would.
      const data = surface.dataTierPods(spec.selector);
      if (surface.replicas.pods(spec.selector).length === 0 && data.length > 0) return runDataTierContainerKill(spec, data, (name) => surface.refreshDataTierPid?.(name) ?? Promise.resolve(), ctx);
      return runContainerKill(spec, surface.replicas, ctx);
    }
    case 'pod-network-latency':
    case 'pod-network-loss':
    case 'pod-network-partition':
      return runNetworkFault({ ...spec, experiment: spec.experiment satisfies NetworkExperiment }, { pods: (s) => surface.replicas.pods(s), faultProxy: (slot) => surface.faultProxy(slot), lossyHop: (slot) => surface.lossyHop(slot) }, ctx);
    case 'pod-cpu-hog':
      return onEachVictim(spec, surface, ctx, (victim) =>
        runCpuHog({ name: spec.name, cpuCores: Number(env.CPU_CORES), cpuLoad: Number(env.CPU_LOAD), durationMs: spec.durationMs }, victim, ctx),
      );
    case 'pod-memory-hog':
      return onEachVictim(spec, surface, ctx, (victim) => runMemoryHog({ name: spec.name, memoryConsumptionMb: Number(env.MEMORY_CONSUMPTION), durationMs: spec.durationMs }, victim, ctx));
    case 'pod-pause':
      return onEachVictim(spec, surface, ctx, async (victim) => {
        // A data-tier container is paused the Docker way (docker pause), as the mapping asks.
        const container = (victim as Partial<DataTierPod>).container;
        if (container) return runDockerPause(spec, victim as DataTierPod, ctx);
        const port = (victim as Partial<Pod>).port;
        const probe = port === undefined ? undefined : () => answers(port);
        const record = await runPause({ name: spec.name, durationMs: spec.durationMs }, victim, ctx, probe ? { probe } : {});
        return { ...record, experiment: spec.experiment };
      });
    case 'node-drain':
      return notStarted(spec.name, spec.experiment, LOCAL_SUPPORT['node-drain'].how);
  }
}

/** Process-level experiments hit replicas and data-tier processes alike, all victims at once (SEQUENCE is not applied). */
async function onEachVictim(
  spec: ResolvedExperiment,
  surface: LocalChaosSurface,
  ctx: InjectorContext,
  inject: (victim: ChaosTarget) => Promise<ExperimentRecord>,
): Promise<ExperimentRecord> {
  const startedAt = Date.now();
  const candidates: ChaosTarget[] = [...surface.replicas.pods(spec.selector).filter((pod) => pod.ready), ...surface.dataTierPods(spec.selector)];
  if (candidates.length === 0) return notStarted(spec.name, spec.experiment, `no process matched ${formatLabelSelector(spec.selector)}`);
  const victims = pickVictims(candidates, spec.podsAffectedPerc, ctx.random);
  // Always in parallel: in series each target would take a whole TOTAL_CHAOS_DURATION and the
  // experiment would outgrow its window on the schedule.
  const parts = await Promise.all(victims.map(inject));
  return mergeRecords(spec.name, spec.experiment, parts, startedAt);
}

async function answers(port: number): Promise<boolean> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(500) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}
