// Test double of k6's `k6/execution` module (see README.md): the values the driver sets per iteration.
import { executionState } from './state.js';

export default {
  scenario: {
    get name() { return executionState.scenario; },
    get iterationInTest() { return executionState.iterationInTest; },
    get iterationInInstance() { return executionState.iterationInTest; },
  },
  vu: {
    get idInTest() { return executionState.vu; },
    get idInInstance() { return executionState.vu; },
    get iterationInScenario() { return executionState.iterationInScenario; },
    get iterationInInstance() { return executionState.iterationInScenario; },
  },
};
