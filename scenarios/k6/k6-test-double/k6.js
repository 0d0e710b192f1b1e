// Test double of k6's `k6` module (see README.md): `check` runs the predicates and records the results.
import { recorded } from './state.js';

export function check(value, sets, tags) {
  const results = {};
  let all = true;
  for (const [name, predicate] of Object.entries(sets)) {
    const ok = predicate(value) === true;
    results[name] = ok;
    all &&= ok;
  }
  recorded.checks.push({ results, tags: tags ?? {} });
  return all;
}
