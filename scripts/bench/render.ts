/** `node --import tsx scripts/bench/render.ts [DIR]`: re-renders DIR/load.md (default docs/benchmarks) from DIR/load.json. */
import { rerender } from './results-file.ts';

try {
  console.log(`wrote ${await rerender(process.argv[2] ?? 'docs/benchmarks')}`);
} catch (error) {
  console.error((error as Error).message);
  process.exitCode = 1;
}
