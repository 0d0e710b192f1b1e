// Test double driver (see README.md): node --import ./register.js driver.js <bundle> <exec> <iterations> <vus>
// Runs setup() once, then the exec function <iterations> times as <vus> VUs would (round robin),
// and prints {options, setupData, requests, asyncRequests, checks} as JSON on stdout.
import { pathToFileURL } from 'node:url';
import { executionState, recorded } from './state.js';

const [bundlePath, execName, iterationsText, vusText] = process.argv.slice(2);
const iterations = Number(iterationsText);
const vus = Number(vusText ?? '1');
if (!bundlePath || !execName || !(iterations >= 0) || !(vus >= 1)) {
  console.error('usage: driver.js <bundle> <exec> <iterations> <vus>');
  process.exit(2);
}
globalThis.__ENV = { BASE_URL: process.env.BASE_URL };
const script = await import(pathToFileURL(bundlePath).href);
const exec = script[execName];
if (typeof exec !== 'function') {
  console.error(`the bundle exports no function ${execName}; exports: ${Object.keys(script).join(', ')}`);
  process.exit(3);
}
const setupData = typeof script.setup === 'function' ? await script.setup() : undefined;
executionState.scenario = execName;
for (let i = 0; i < iterations; i++) {
  executionState.iterationInTest = i;
  executionState.vu = (i % vus) + 1;
  executionState.iterationInScenario = Math.floor(i / vus);
  exec(setupData);
}
process.stdout.write(JSON.stringify({ options: script.options, setupData, ...recorded }));
