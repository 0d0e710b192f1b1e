import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderHtml } from '../../reports/html-reporter.ts';
import type { RunResult } from '../../reports/result.ts';
import { ROOT } from '../helpers/cli.ts';
import { chromiumProcessTree, launchOfflineBrowser, pngSize, type OfflineBrowser } from '../helpers/browser.ts';

/**
 * The HTML report as people see it: rendered from a real run's result (test/fixtures/report,
 * host-specific values scrubbed) and opened in Debian's headless Chromium with JavaScript off and
 * the network blocked, as it would be opened from a CI artifact on a plane.
 */

// Runs inside the page; this project compiles for Node, without the DOM's type declarations.
declare function getComputedStyle(element: unknown): { backgroundColor: string };

const result = JSON.parse(readFileSync(path.join(ROOT, 'test/fixtures/report/result.json'), 'utf8')) as RunResult;
let dir: string;
let browser: OfflineBrowser;
let screenshot: Buffer;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'resilience-report-browser-'));
  const file = path.join(dir, 'index.html');
  writeFileSync(file, renderHtml(result));
  browser = await launchOfflineBrowser({ width: 1300 });
  const response = await browser.page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  expect(response?.ok(), 'the report should load from disk').toBe(true);
  screenshot = await browser.page.screenshot({ path: path.join(dir, 'report.png'), fullPage: true });
});

afterAll(async () => {
  await browser?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the HTML report in headless Chromium (no JavaScript, no network)', () => {
  it('loads from the file alone: nothing but file:// was requested', () => {
    expect(browser.blocked, 'requests other than file:// (aborted)').toEqual([]);
    expect(browser.requested.length).toBeGreaterThanOrEqual(1);
    for (const url of browser.requested) expect(url).toMatch(/^file:\/\//);
  });

  it('renders a full-page screenshot 1300 px wide, longer than one screen', () => {
    const size = pngSize(screenshot);
    expect(size.width).toBe(1300);
    expect(size.height, 'the whole report, not only the first screen').toBeGreaterThan(900);
  });

  it('puts the verdict first: its text, its colour and the reason', async () => {
    const banner = browser.page.getByTestId('verdict');
    await expect(banner.locator('.badge').textContent()).resolves.toBe('PASS');
    expect(await banner.getAttribute('class')).toMatch(/\bpass\b/);
    // --pass: #1a7f37, the green a reader takes for "ship it".
    expect(await banner.evaluate((el) => getComputedStyle(el).backgroundColor)).toBe('rgb(26, 127, 55)');
    expect((await browser.page.getByTestId('reason').textContent())?.trim()).toBe(result.reason);
    const [bannerBox, tableBox] = [await banner.boundingBox(), await browser.page.getByTestId('slo-table').boundingBox()];
    expect(bannerBox!.y, 'the verdict is above the SLO table').toBeLessThan(tableBox!.y);
    expect(bannerBox!.y).toBe(0);
  });

  it('shows one SLO row per SLO and phase, grouped by phase', async () => {
    const table = browser.page.getByTestId('slo-table');
    const phases = [...new Set(result.slos.map((s) => s.phase))];
    expect(phases.length, 'the fixture has several phases').toBeGreaterThanOrEqual(4);
    for (const phase of phases) {
      const expected = result.slos.filter((s) => s.phase === phase).length;
      await expect(table.locator(`tbody tr[data-phase="${phase}"]`).count(), `rows of phase ${phase}`).resolves.toBe(expected);
      await expect(table.locator('th.phase', { hasText: phase }).count()).resolves.toBe(1);
    }
    await expect(table.locator('tbody tr').count()).resolves.toBe(result.slos.length);
    for (const s of result.slos) {
      const row = table.locator(`tbody tr[data-phase="${s.phase}"][data-slo="${s.slo}"]`);
      await expect(row.locator('.pill').textContent()).resolves.toBe(s.verdict);
      await expect(row.locator('td.num').last().textContent()).resolves.toBe(String(s.samples));
    }
  });

  it('hides the PromQL behind a figure until its <details> is opened, then shows the exact query', async () => {
    const first = result.slos[0]!;
    const details = browser.page.getByTestId('slo-table').locator(`tr[data-phase="${first.phase}"][data-slo="${first.slo}"] details`);
    const query = details.locator('pre.promql').first();
    expect(await details.getAttribute('open')).toBeNull();
    expect(await query.isVisible()).toBe(false);
    // Native <details>: opens without JavaScript.
    await details.locator('summary').click();
    expect(await details.getAttribute('open')).not.toBeNull();
    expect(await query.isVisible()).toBe(true);
    expect(await query.textContent()).toBe(first.queries.value);
  });

  it('shows each experiment with the evidence that it took effect', async () => {
    const section = browser.page.locator('section', { has: browser.page.locator('h2', { hasText: 'Experiments' }) });
    expect(result.experiments.length).toBeGreaterThan(0);
    for (const experiment of result.experiments) {
      const article = section.locator('article.experiment', { has: browser.page.locator('h3', { hasText: experiment.name }) });
      await expect(article.locator('.pill').textContent()).resolves.toBe(experiment.tookEffect ? 'took effect' : 'not proven');
      const rows = article.locator('tbody tr');
      await expect(rows.count()).resolves.toBe(experiment.actions.length);
      for (const [i, action] of experiment.actions.entries()) {
        const cells = rows.nth(i).locator('td');
        await expect(cells.nth(2).textContent()).resolves.toBe(action.target);
        await expect(cells.nth(3).textContent()).resolves.toBe(action.evidence ?? '');
        expect(await cells.nth(3).isVisible()).toBe(true);
      }
    }
  });

  it('closes Chromium without leaving a process or its profile behind', async () => {
    const profile = browser.userDataDir;
    expect(chromiumProcessTree(profile).length, 'Chromium was running with the test profile').toBeGreaterThan(0);
    expect(await browser.close(), 'Chromium processes still running').toEqual([]);
    expect(chromiumProcessTree(profile)).toEqual([]);
    expect(existsSync(profile), 'the profile directory is removed').toBe(false);
  });
});
