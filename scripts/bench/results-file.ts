/**
 * load.json and load.md on disk: written together by the benchmark, and load.md re-rendered from
 * load.json alone (after a change to the page's layout, without re-running 12 minutes of load).
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { renderMarkdown } from './report.ts';
import type { BenchResults } from './report.ts';

export async function writeResults(outDir: string, results: BenchResults): Promise<{ json: string; markdown: string }> {
  await mkdir(outDir, { recursive: true });
  const json = path.join(outDir, 'load.json');
  const markdown = path.join(outDir, 'load.md');
  await writeFile(json, `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(markdown, renderMarkdown(results));
  return { json, markdown };
}

/** Re-renders `outDir/load.md` from `outDir/load.json`; throws naming the file when it is missing or not results. */
export async function rerender(outDir: string): Promise<string> {
  const json = path.join(outDir, 'load.json');
  let results: BenchResults;
  try {
    results = JSON.parse(await readFile(json, 'utf8')) as BenchResults;
  } catch (error) {
    throw new Error(`cannot read ${json}: ${(error as Error).message}; run the benchmark first (npm run bench:load)`);
  }
  if (typeof results !== 'object' || results === null || results.plan === undefined || !Array.isArray(results.accuracy)) {
    throw new Error(`${json} is not a benchmark results file (no plan or accuracy); run the benchmark again`);
  }
  const markdown = path.join(outDir, 'load.md');
  await writeFile(markdown, renderMarkdown(results));
  return markdown;
}
