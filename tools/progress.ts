// Contract: progress of long work (builds of many guest images, boots of thousands of VMs, every bench), one
// helper for all. A Progress counts items of a known total through named stages and reports on a stream
// (stderr unless told): where the stream is a terminal, one bar redrawn in place (`\r`, cleared to the end of
// the line, cut to the terminal's width); elsewhere (a log, a pipe, CI) a line per report, `NAME: STAGE
// DONE/TOTAL (ELAPSED s)`, printed when the stage changes, when the count reaches the total, or at most every
// `lineEveryMs` (30 s) between, so a count polled every 200 ms writes a line a stage plus one a half-minute.
// finish() ends the report with the whole elapsed time. Writes nothing else; the work's own output goes on.

/** What a Progress writes to: process.stderr, or a test's recorder. */
export interface ProgressStream { isTTY?: boolean; columns?: number; write(text: string): unknown }

interface ProgressOptions {
  stream?: ProgressStream;
  /** Milliseconds since some origin (performance.now by default; tests pass a fake clock). */
  now?: () => number;
  /** Without a terminal, the longest wait between two lines of the same stage (30 s). */
  lineEveryMs?: number;
}

const BAR_WIDTH = 24;
const TTY_REDRAW_MS = 100;

export class Progress {
  private readonly stream: ProgressStream;
  private readonly now: () => number;
  private readonly lineEveryMs: number;
  private readonly start: number;
  private lastStage = '';
  private lastWrite = -Infinity;
  private drawn = false;

  constructor(readonly name: string, readonly total: number, options: ProgressOptions = {}) {
    this.stream = options.stream ?? process.stderr;
    this.now = options.now ?? (() => performance.now());
    this.lineEveryMs = options.lineEveryMs ?? 30_000;
    this.start = this.now();
  }

  /** `done` of the total items are done, the work now in `stage`. */
  update(done: number, stage: string): void {
    const now = this.now();
    const changed = stage !== this.lastStage || done >= this.total;
    if (this.stream.isTTY) {
      if (!changed && now - this.lastWrite < TTY_REDRAW_MS) return;
      this.stream.write(`\r${this.bar(done, stage, now)}\x1b[K`);
      this.drawn = true;
    } else {
      if (!changed && now - this.lastWrite < this.lineEveryMs) return;
      this.stream.write(`${this.line(done, stage, now)}\n`);
    }
    this.lastStage = stage;
    this.lastWrite = now;
  }

  /** The last report: `NAME: SUMMARY (ELAPSED s)` on a line of its own (the bar's line on a terminal). */
  finish(summary = 'done'): void {
    const text = `${this.name}: ${summary} (${this.elapsed(this.now())} s)`;
    this.stream.write(this.stream.isTTY && this.drawn ? `\r${text}\x1b[K\n` : `${text}\n`);
    this.drawn = false;
  }

  private elapsed(now: number): string { return ((now - this.start) / 1000).toFixed(1); }

  private line(done: number, stage: string, now: number): string {
    return `${this.name}: ${stage} ${done}/${this.total} (${this.elapsed(now)} s)`;
  }

  private bar(done: number, stage: string, now: number): string {
    const filled = Math.round(BAR_WIDTH * Math.min(1, done / Math.max(1, this.total)));
    const text = `${this.name} [${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${done}/${this.total} `
      + `${stage} ${this.elapsed(now)} s`;
    return text.slice(0, Math.max(1, (this.stream.columns ?? 80) - 1));
  }
}
