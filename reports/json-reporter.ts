import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Reporter } from './reporter.ts';

/** `result.json`: the source every other view is rendered from. */
export const jsonReporter: Reporter = {
  name: 'json',
  async write(result, runDir) {
    const file = path.join(runDir, 'result.json');
    await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
    return file;
  },
};
