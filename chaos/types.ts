import type { Pod } from '../cluster/targets/local/replica-set.ts';

/** What a pod-deleting injector needs from a target; the local target and Kubernetes both give it. */
export interface PodControl {
  pods(selector: Record<string, string>): Pod[];
  /** Deletes the pod (graceful unless `force`) and resolves once it is gone. */
  deletePod(name: string, force: boolean): Promise<Pod>;
  /** Resolves with the ready pod that replaced `previous`, or rejects after `timeoutMs`. */
  waitForReplacement(previous: Pod, timeoutMs: number, signal?: AbortSignal): Promise<Pod>;
}

/** One thing an experiment did, with the proof that it took effect. */
export interface ChaosAction {
  at: number;
  action: string;
  target: string;
  /** e.g. "pid 4242 → pid 4310, ready after 612 ms"; absent until proven. */
  evidence?: string;
  tookEffect: boolean;
}

/** An experiment as it happened, for phases and reports. Times are epoch ms. */
export interface ExperimentRecord {
  name: string;
  experiment: string;
  start: number;
  end: number;
  actions: ChaosAction[];
  /** True only when at least one action ran and every action proved its effect. */
  tookEffect: boolean;
  /** Why it did not take effect, when it did not. */
  reason?: string;
}
