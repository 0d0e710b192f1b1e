// Test double (see README.md): Node module resolution hook for k6's built-in module names.
const DOUBLES = {
  k6: new URL('./k6.js', import.meta.url).href,
  'k6/http': new URL('./http.js', import.meta.url).href,
  'k6/execution': new URL('./execution.js', import.meta.url).href,
};

export async function resolve(specifier, context, nextResolve) {
  const url = DOUBLES[specifier];
  if (url !== undefined) return { url, format: 'module', shortCircuit: true };
  if (specifier.startsWith('k6/')) throw new Error(`k6-test-double has no module ${specifier}`);
  return nextResolve(specifier, context);
}
