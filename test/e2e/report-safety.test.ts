import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../../reports/result.ts';
import { HOSTILE_DESCRIPTION, HOSTILE_SCRIPT } from '../fixtures/hostile/strings.ts';
import { readLedger, ROOT, runCli } from '../helpers/cli.ts';

/**
 * The reports of a real run whose config and system under test carry hostile strings and whose
 * environment holds a secret that the scenario sends as its Authorization header: every view shows
 * the strings as text, and the secret appears in no file and no line of output.
 */

const FIXTURE = path.join(ROOT, 'test/fixtures/hostile/resilience.config.ts');
// Fresh per run, so a leak cannot hide behind a value some other file happens to contain.
const TOKEN = `sk-live-${randomBytes(12).toString('hex')}`;

let base: string;
let run: { code: number | null; output: string };
let runDir: string;

beforeAll(async () => {
  base = mkdtempSync(path.join(os.tmpdir(), 'resilience-safety-'));
  run = await runCli(['run', 'api', '--config', FIXTURE, '--reports-dir', path.join(base, 'reports'), '--state-dir', path.join(base, 'state'), '--history-dir', path.join(base, 'history')], {
    env: { HASTECRM_API_TOKEN: TOKEN },
  });
  const runs = existsSync(path.join(base, 'reports')) ? readdirSync(path.join(base, 'reports')) : [];
  expect(runs, `expected one run folder; output:\n${run.output}`).toHaveLength(1);
  runDir = path.join(base, 'reports', runs[0]!);
});

afterAll(() => {
  if (base) rmSync(base, { recursive: true, force: true });
});

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name);
    return statSync(file).isDirectory() ? filesUnder(file) : [file];
  });
}

/** A raw tag that a browser (or a Markdown renderer passing HTML through) would execute. */
const LIVE_MARKUP = [/<script/i, /<img/i, /<[a-z][^>]*\son[a-z]+\s*=/i];

function liveMarkup(text: string): string[] {
  return LIVE_MARKUP.flatMap((pattern) => {
    const match = pattern.exec(text);
    return match ? [text.slice(Math.max(0, match.index - 60), match.index + 60)] : [];
  });
}

describe('reports of a run with hostile strings and a secret in the environment', () => {
  it('completes: hostile strings in labels and names do not break the run', () => {
    expect(run.code, `expected exit 0; output:\n${run.output}`).toBe(0);
    const result = JSON.parse(readFileSync(path.join(runDir, 'result.json'), 'utf8')) as RunResult;
    // The hostile strings reached the result, so the views below had to deal with them.
    expect(result.description, 'the secret in the config is redacted in the result').toBe(`${HOSTILE_DESCRIPTION} (token ***)`);
    expect(result.load?.scenario).toContain(HOSTILE_SCRIPT);
    expect(result.load?.requests, 'the scenario sent its requests (with the Authorization header)').toBeGreaterThan(100);
  });

  it('index.html shows the hostile strings as text and contains no live markup from them', () => {
    const html = readFileSync(path.join(runDir, 'index.html'), 'utf8');
    expect(liveMarkup(html), 'unescaped markup in index.html').toEqual([]);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  it('summary.md and junit.xml, where written, contain no live markup', () => {
    const markdown = path.join(runDir, 'summary.md');
    if (existsSync(markdown)) {
      // Code spans and fenced blocks render as text: only what is outside them can become markup.
      const outsideCode = readFileSync(markdown, 'utf8').replace(/^```[\s\S]*?^```/gm, '').replace(/(`+)[^`]*?\1/g, '');
      expect(liveMarkup(outsideCode), 'unescaped markup in summary.md').toEqual([]);
    }
    const junit = path.join(runDir, 'junit.xml');
    if (existsSync(junit)) {
      const outsideCdata = readFileSync(junit, 'utf8').replace(/<!\[CDATA\[[\s\S]*?\]\]>/g, '');
      expect(liveMarkup(outsideCdata), 'unescaped markup in junit.xml').toEqual([]);
    }
    // At least the two views the pipeline always writes were checked above.
    expect(readdirSync(runDir)).toEqual(expect.arrayContaining(['index.html', 'result.json']));
  });

  it('the secret appears in no file the run wrote (reports and state) and not in its output', () => {
    const files = [...filesUnder(path.join(base, 'reports')), ...filesUnder(path.join(base, 'state')), ...filesUnder(path.join(base, 'history'))];
    expect(files.length).toBeGreaterThanOrEqual(2);
    const leaks = files.filter((file) => readFileSync(file).includes(TOKEN));
    expect(leaks, 'files containing the token').toEqual([]);
    expect(run.output.includes(TOKEN), 'the CLI printed the token').toBe(false);
    expect(readLedger(path.join(base, 'state')), 'the run cleaned up').toEqual([]);
  });
});
