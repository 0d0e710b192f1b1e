import { describe, expect, it } from 'vitest';
import { assertChaosAllowed, isKindContext, kindContextName, UnsafeContextError } from './context-safety.ts';

describe('assertChaosAllowed', () => {
  it('allows kind contexts without asking', () => {
    expect(() => assertChaosAllowed(kindContextName('hastecrm'))).not.toThrow();
    expect(isKindContext('kind-hastecrm')).toBe(true);
  });

  it('refuses any other context, naming it and the flag that allows it', () => {
    for (const context of ['prod-eu-west-1', 'gke_company_europe-west1_prod', 'kind', 'kind-', 'minikube', 'my-kind-cluster']) {
      expect(() => assertChaosAllowed(context), context).toThrow(UnsafeContextError);
    }
    expect(() => assertChaosAllowed('prod-eu-west-1')).toThrow('--allow-context prod-eu-west-1');
  });

  it('allows exactly the context the user named, not another one', () => {
    expect(() => assertChaosAllowed('staging', { allowContext: 'staging' })).not.toThrow();
    expect(() => assertChaosAllowed('production', { allowContext: 'staging' })).toThrow(/"production"/);
    expect(() => assertChaosAllowed('', { allowContext: '' })).toThrow(/no current kube context/);
  });
});
