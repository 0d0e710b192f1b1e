import { describe, it } from 'vitest';
import { DOCKER_INSTALL_HINT, dockerAnswers } from './docker.ts';

/**
 * For tests that need a Docker engine. Without one they FAIL with the reason, unless
 * RESILIENCE_SKIP_DOCKER=1 is set: then they are skipped and the reason is printed. CI starts
 * dockerd, so a missing engine there is a broken CI, not a skip.
 */
const state = await dockerAnswers(10_000);

export const dockerAvailable = state.ok;

export function describeWithDocker(name: string, body: () => void): void {
  if (state.ok) {
    describe(name, body);
    return;
  }
  const reason = `Docker does not answer (${state.reason}); install and start it (${DOCKER_INSTALL_HINT})`;
  if (process.env.RESILIENCE_SKIP_DOCKER === '1') {
    console.warn(`skipping "${name}": ${reason} and RESILIENCE_SKIP_DOCKER=1 is set`);
    describe.skip(name, body);
    return;
  }
  describe(name, () => {
    it('needs a Docker engine', () => {
      throw new Error(`${reason}, or set RESILIENCE_SKIP_DOCKER=1 to skip the container tests`);
    });
  });
}
