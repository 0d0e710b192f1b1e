// Test double (see README.md): what the script did, and the execution state the driver sets.
export const recorded = { requests: [], asyncRequests: [], checks: [] };
export const executionState = { scenario: '', vu: 1, iterationInTest: 0, iterationInScenario: 0 };
