import { createRedactor } from '../../reports/redact.ts';
import { formatDuration } from '../util/duration.ts';

/** The numbers on the live line during load. */
export interface LiveLine {
  elapsedMs: number;
  totalMs: number;
  requests: number;
  ratePerSec: number;
  errors: number;
  p95Ms: number;
  droppedIterations: number;
}

/** Where a run tells people what it is doing. Implementations never throw. */
export interface Progress {
  stageStart(title: string): void;
  stageEnd(title: string, outcome: 'ok' | 'failed' | 'aborted', durationMs: number, error?: unknown): void;
  info(message: string): void;
  warn(message: string): void;
  /** Replaces the live line (on a terminal) or prints it every few seconds (in CI logs). */
  live(line: LiveLine): void;
  /** Ends the live line so the next output starts on a fresh line. */
  endLive(): void;
}

const NON_TTY_LIVE_EVERY_MS = 5_000;

/** Progress on a stream: one line per stage, a live line during load. */
export class ConsoleProgress implements Progress {
  /** Every line goes through it: stage errors and service logs may quote URLs with passwords. */
  private readonly redact = createRedactor();
  private liveShown = false;
  private lastLivePrint = 0;

  constructor(
    private readonly out: NodeJS.WriteStream = process.stdout,
    private readonly isTty = Boolean(out.isTTY) && !process.env.CI,
  ) {}

  stageStart(title: string): void {
    this.line(`▶ ${title}`);
  }

  stageEnd(title: string, outcome: 'ok' | 'failed' | 'aborted', durationMs: number, error?: unknown): void {
    const mark = outcome === 'ok' ? '✔' : outcome === 'aborted' ? '■' : '✖';
    const detail = error ? `: ${describeError(error)}` : '';
    this.line(`${mark} ${title} (${formatDuration(durationMs)})${outcome === 'ok' ? '' : ` ${outcome}`}${detail}`);
  }

  info(message: string): void {
    this.line(`  ${message}`);
  }

  warn(message: string): void {
    this.line(`  ⚠ ${message}`);
  }

  live(l: LiveLine): void {
    const text = `  load ${Math.floor(Math.min(l.elapsedMs, l.totalMs) / 1000)}s/${formatDuration(l.totalMs)} · ${l.ratePerSec.toFixed(0)} req/s · ${l.requests} requests · ${l.errors} errors · p95 ${l.p95Ms.toFixed(0)} ms${l.droppedIterations ? ` · ${l.droppedIterations} dropped` : ''}`;
    if (this.isTty) {
      this.out.write(`\r\x1b[2K${text}`);
      this.liveShown = true;
    } else if (Date.now() - this.lastLivePrint >= NON_TTY_LIVE_EVERY_MS) {
      this.lastLivePrint = Date.now();
      this.out.write(`${text}\n`);
    }
  }

  endLive(): void {
    if (this.liveShown) this.out.write('\n');
    this.liveShown = false;
    this.lastLivePrint = 0;
  }

  private line(text: string): void {
    if (this.liveShown) {
      this.out.write('\r\x1b[2K');
      this.liveShown = false;
    }
    this.out.write(`${this.redact(text)}\n`);
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : JSON.stringify(error);
}
