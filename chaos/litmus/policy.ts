import { EXPERIMENTS, type ExperimentDefinition, type HelperKind } from './experiments.ts';

/** What a helper pod of each kind asks of admission (see HelperKind). */
const HELPER_NEEDS: Record<HelperKind, { privileged: boolean; hostPath: boolean; hostPID: boolean; capabilities: string[]; root: boolean }> = {
  none: { privileged: false, hostPath: false, hostPID: false, capabilities: [], root: false },
  'cri-socket': { privileged: false, hostPath: true, hostPID: false, capabilities: [], root: true },
  'privileged-stress': { privileged: true, hostPath: true, hostPID: true, capabilities: ['SYS_ADMIN'], root: true },
  'privileged-network': { privileged: true, hostPath: true, hostPID: true, capabilities: ['NET_ADMIN', 'SYS_ADMIN'], root: true },
};

/** A cluster admission policy, reduced to the requirements that matter for helper pods. */
export interface AdmissionPolicy {
  /** e.g. "gatekeeper K8sPSPAllowedUsers/must-run-as-nonroot". */
  name: string;
  requires: ('runAsNonRoot' | 'noPrivileged' | 'noHostPath' | 'noHostNamespaces' | 'noAddedCapabilities')[];
  /** Namespaces it applies to; absent means every namespace. */
  namespaces?: string[];
  excludedNamespaces?: string[];
}

export interface PolicyCheckInput {
  experiments: readonly ExperimentDefinition[];
  /** The ChaosEngine's namespace: Litmus creates its runner, experiment and helper pods there. */
  chaosNamespace: string;
  /** The target's namespace (appns), for the suggested fix. */
  appNamespace: string;
  /** Labels of the namespaces involved (at least chaosNamespace), as on the cluster. */
  namespaceLabels: Record<string, Record<string, string>>;
  admissionPolicies?: readonly AdmissionPolicy[];
  /** Where helpers could run instead, suggested in the fix. */
  suggestedChaosNamespace?: string;
}

export interface PolicyFinding {
  severity: 'error' | 'warning';
  experiment: string;
  namespace: string;
  /** The rule that rejects the pod, e.g. 'pod-security enforce=restricted' or the policy's name. */
  rule: string;
  message: string;
  fix: string;
}

type Level = 'privileged' | 'baseline' | 'restricted';

/**
 * Finds experiments whose pods the cluster's own policies will reject, before anything starts.
 * Helper pods run in the ChaosEngine's namespace, so that namespace's Pod Security `enforce`
 * level and the admission policies covering it decide. An absent `enforce` label counts as
 * `privileged` (the Kubernetes default without a cluster-wide AdmissionConfiguration).
 * Errors: a helper the namespace or a policy forbids. Warnings: under `restricted` even the runner
 * and experiment pods need a compliant securityContext, which Litmus does not set by default.
 */
export function checkPolicyConflicts(input: PolicyCheckInput): PolicyFinding[] {
  const findings: PolicyFinding[] = [];
  const ns = input.chaosNamespace;
  const labels = input.namespaceLabels[ns] ?? {};
  const level = enforceLevel(labels['pod-security.kubernetes.io/enforce']);
  const chaosNs = input.suggestedChaosNamespace ?? 'litmus';
  const fix =
    `run the ChaosEngine in a chaos namespace whose Pod Security level admits the helpers (e.g. "${chaosNs}" labelled ` +
    `pod-security.kubernetes.io/enforce=privileged and excluded from the non-root policies), with chaosServiceAccount there ` +
    `and appinfo.appns: ${input.appNamespace}; the application's namespace keeps its policy`;
  const policies = (input.admissionPolicies ?? []).filter((p) => (!p.namespaces || p.namespaces.includes(ns)) && !(p.excludedNamespaces ?? []).includes(ns));

  for (const definition of input.experiments) {
    const helper = EXPERIMENTS[definition.experiment].helper;
    const needs = HELPER_NEEDS[helper];
    const experiment = definition.experiment;
    if (helper !== 'none' && level !== 'privileged') {
      findings.push({
        severity: 'error',
        experiment,
        namespace: ns,
        rule: `pod-security enforce=${level}`,
        message: `${experiment} needs a helper pod with ${describeNeeds(needs)}; namespace ${ns} enforces the ${level} Pod Security Standard, which rejects it, so the experiment would never inject`,
        fix,
      });
    }
    for (const policy of policies) {
      const violated = policy.requires.filter(
        (r) =>
          (r === 'runAsNonRoot' && needs.root) ||
          (r === 'noPrivileged' && needs.privileged) ||
          (r === 'noHostPath' && needs.hostPath) ||
          (r === 'noHostNamespaces' && needs.hostPID) ||
          (r === 'noAddedCapabilities' && needs.capabilities.length > 0),
      );
      if (violated.length === 0) continue;
      findings.push({
        severity: 'error',
        experiment,
        namespace: ns,
        rule: policy.name,
        message: `${experiment}'s helper pod (${describeNeeds(needs)}) violates ${policy.name} (${violated.join(', ')}) in namespace ${ns}`,
        fix,
      });
    }
    if (level === 'restricted') {
      findings.push({
        severity: 'warning',
        experiment,
        namespace: ns,
        rule: 'pod-security enforce=restricted',
        message: `namespace ${ns} enforces restricted: the chaos-runner and ${experiment} experiment pods are admitted only with runAsNonRoot, seccompProfile RuntimeDefault, allowPrivilegeEscalation false and all capabilities dropped, which Litmus does not set by default`,
        fix: `set a compliant securityContext on the engine's runner and experiment components, or ${fix}`,
      });
    }
  }
  return findings;
}

function enforceLevel(value: string | undefined): Level {
  return value === 'baseline' || value === 'restricted' ? value : 'privileged';
}

function describeNeeds(needs: (typeof HELPER_NEEDS)[HelperKind]): string {
  const parts: string[] = [];
  if (needs.privileged) parts.push('privileged: true');
  if (needs.hostPID) parts.push('hostPID');
  if (needs.capabilities.length > 0) parts.push(`capabilities ${needs.capabilities.join('+')}`);
  if (needs.hostPath) parts.push('a hostPath volume for the container runtime socket');
  if (needs.root) parts.push('root');
  return parts.join(', ');
}
