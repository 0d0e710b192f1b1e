import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRunResult, renderRunDir, ResultFileError, VIEW_REPORTERS } from './render.ts';
import type { Reporter } from './reporter.ts';
import { passResult } from './testdata/fixtures.ts';

let tmp: string;
let count = 0;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'render-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A fresh run folder holding `result` (an object, or raw text) as result.json. */
async function runDir(result: unknown): Promise<string> {
  const dir = path.join(tmp, `run-${++count}`);
  await mkdir(dir);
  await writeFile(path.join(dir, 'result.json'), typeof result === 'string' ? result : JSON.stringify(result));
  return dir;
}

describe('renderRunDir', () => {
  it('renders every view again from a real run’s result.json, which it leaves as it was', async () => {
    const dir = path.join(tmp, 'real');
    await mkdir(dir);
    await copyFile(new URL('./testdata/result.pass.json', import.meta.url), path.join(dir, 'result.json'));
    const before = await readFile(path.join(dir, 'result.json'), 'utf8');
    const outcome = await renderRunDir(dir);
    expect(outcome.failed).toEqual([]);
    expect(outcome.written.map((w) => w.reporter)).toEqual(VIEW_REPORTERS.map((r) => r.name));
    expect((await readdir(dir)).sort()).toEqual(['grafana-dashboard.json', 'index.html', 'junit.xml', 'result.json', 'summary.md']);
    expect(await readFile(path.join(dir, 'result.json'), 'utf8')).toBe(before);
    expect(await readFile(path.join(dir, 'summary.md'), 'utf8')).toMatch(/^## Resilience run `api-20261126-115210-bbcb`: \*\*PASS\*\*/);
    expect(await readFile(path.join(dir, 'index.html'), 'utf8')).toContain('api-20261126-115210-bbcb');
  });

  it('keeps the other views when one reporter fails', async () => {
    const dir = await runDir(passResult());
    const broken: Reporter = { name: 'broken', write: () => Promise.reject(new Error('disk full')) };
    const outcome = await renderRunDir(dir, [broken, ...VIEW_REPORTERS]);
    expect(outcome.failed).toEqual([{ reporter: 'broken', error: 'disk full' }]);
    expect(outcome.written).toHaveLength(VIEW_REPORTERS.length);
  });

  it('refuses a result without a verdict, naming the file and the field, and writes nothing', async () => {
    const { verdict: _verdict, ...noVerdict } = passResult();
    const dir = await runDir(noVerdict);
    const file = path.join(dir, 'result.json');
    await expect(renderRunDir(dir)).rejects.toThrow(new ResultFileError(file, `${file}: does not match the result schema: (the top level): missing required field "verdict"`));
    expect(await readdir(dir)).toEqual(['result.json']);
  });

  it('refuses an unknown verdict, quoting it and the allowed ones', async () => {
    const dir = await runDir({ ...passResult(), verdict: 'maybe' });
    await expect(renderRunDir(dir)).rejects.toThrow(/result\.json: does not match the result schema: \/verdict: must be one of "pass", "fail", "inconclusive" \(got "maybe"\)$/);
  });

  it('refuses another schema version, naming it, the one it reads, and the harness that wrote it', async () => {
    const dir = await runDir({ ...passResult(), schemaVersion: 2, environment: { ...passResult().environment, harnessVersion: '0.9.0' } });
    await expect(renderRunDir(dir)).rejects.toThrow(/result\.json: has schemaVersion 2, which this harness cannot read \(it reads 1\); it was written by harness 0\.9\.0, render it with that version$/);
    const { schemaVersion: _v, ...unversioned } = passResult();
    await expect(renderRunDir(await runDir(unversioned))).rejects.toThrow(/has no schemaVersion; this harness reads result schema version 1$/);
  });

  it('says what is wrong with a folder without result.json, a file that is not JSON, and a path that is not a folder', async () => {
    const empty = path.join(tmp, 'empty');
    await mkdir(empty);
    await expect(renderRunDir(empty)).rejects.toThrow(`${path.join(empty, 'result.json')} does not exist: is ${empty} a run folder?`);
    await expect(renderRunDir(await runDir('{"schemaVersion": 1,'))).rejects.toThrow(/result\.json is not JSON: /);
    await expect(renderRunDir(path.join(tmp, 'nowhere'))).rejects.toThrow(`${path.join(tmp, 'nowhere')} is not a folder: give the run folder, e.g. reports/runs/<run-id>`);
  });
});

describe('readRunResult', () => {
  it('gives back the result as written', async () => {
    const dir = await runDir(passResult());
    expect(await readRunResult(path.join(dir, 'result.json'))).toEqual(passResult());
  });
});
