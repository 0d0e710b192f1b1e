import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

/** Debian's Chromium (`apt-get install chromium`); Playwright's own browser downloads are not used. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Headless, no sandbox (containers, root), and nothing that phones home on its own. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
] as const;

export interface OfflineBrowser {
  context: BrowserContext;
  page: Page;
  /** The fresh profile directory; removed by close(). */
  userDataDir: string;
  /** Every URL the browser requested, file:// included, in order. */
  requested: string[];
  /** Requests that were not file:// and were aborted. A self-contained report makes none. */
  blocked: string[];
  /**
   * Closes the browser, removes the profile and returns the Chromium processes of this browser
   * still alive afterwards (waiting up to 5 s for them to exit). Safe to call twice.
   */
  close(): Promise<{ pid: number; cmdline: string }[]>;
}

/**
 * Launches Chromium with a fresh profile, JavaScript off and the network blocked: every request
 * that is not file:// is aborted and recorded, so a test can assert that a page needs nothing but
 * itself.
 */
export async function launchOfflineBrowser(options: { width?: number; height?: number } = {}): Promise<OfflineBrowser> {
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'resilience-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [...CHROMIUM_ARGS],
      javaScriptEnabled: false,
      viewport: { width: options.width ?? 1300, height: options.height ?? 900 },
      deviceScaleFactor: 1,
    });
  } catch (error) {
    rmSync(userDataDir, { recursive: true, force: true });
    throw error;
  }
  const requested: string[] = [];
  const blocked: string[] = [];
  context.on('request', (request) => requested.push(request.url()));
  await context.route(
    (url) => url.protocol !== 'file:',
    async (route) => {
      blocked.push(route.request().url());
      await route.abort('blockedbyclient');
    },
  );
  // Known before closing: once the browser is gone, its children can no longer be found by ancestry.
  const processes = (): number[] => chromiumProcessTree(userDataDir);
  let tracked: number[] = processes();
  const page = context.pages()[0] ?? (await context.newPage());
  tracked = [...new Set([...tracked, ...processes()])];
  let closed: Promise<{ pid: number; cmdline: string }[]> | undefined;
  const close = async (): Promise<{ pid: number; cmdline: string }[]> => {
    tracked = [...new Set([...tracked, ...processes()])];
    await context.close();
    const deadline = Date.now() + 5_000;
    let alive = tracked.filter(isRunning);
    while (alive.length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      alive = tracked.filter(isRunning);
    }
    rmSync(userDataDir, { recursive: true, force: true });
    return alive.map((pid) => ({ pid, cmdline: cmdlineOf(pid) }));
  };
  return { context, page, userDataDir, requested, blocked, close: () => (closed ??= close()) };
}

/** The Chromium started with this profile and every process below it (renderers, zygotes, crashpad). */
export function chromiumProcessTree(userDataDir: string): number[] {
  const parents = new Map<number, number>();
  const roots: number[] = [];
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the command name, which may itself contain spaces and parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parents.set(pid, ppid);
      if (cmdlineOf(pid).includes(userDataDir)) roots.push(pid);
    } catch {
      // gone while we looked
    }
  }
  const tree = new Set(roots);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, ppid] of parents) {
      if (!tree.has(pid) && tree.has(ppid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  return [...tree];
}

/** True if the process exists and is not a zombie waiting to be reaped. */
function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function cmdlineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/** Width and height of a PNG, from its IHDR chunk. */
export function pngSize(png: Buffer): { width: number; height: number } {
  if (png.length < 24 || png.toString('latin1', 1, 4) !== 'PNG') throw new Error('not a PNG');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}
