/**
 * A one-line progress bar on stderr: redrawn in place on a terminal, printed
 * as plain step lines otherwise (CI logs, pipes).
 */
export class ProgressBar {
  private done = 0;
  private fraction = 0;
  private label = '';
  private readonly tty = process.stderr.isTTY === true;
  private lastDraw = 0;
  private readonly startedAt = Date.now();

  constructor(private readonly total: number) {}

  /** A new step begins (the previous one is complete). */
  step(label: string): void {
    if (this.label !== '') this.done++;
    this.fraction = 0;
    this.label = label;
    if (this.tty) this.draw(true);
    else process.stderr.write(`[${this.done + 1}/${this.total}] ${label}\n`);
  }

  /** Progress within the current step, 0..1. */
  progress(fraction: number): void {
    this.fraction = Math.max(0, Math.min(1, fraction));
    if (this.tty) this.draw(false);
  }

  finish(): void {
    this.done = this.total;
    this.fraction = 0;
    this.label = 'done';
    if (this.tty) {
      this.draw(true);
      process.stderr.write('\n');
    }
  }

  /** Prints a line above the bar. */
  log(line: string): void {
    if (this.tty) process.stderr.write(`\r\x1b[K${line}\n`);
    else process.stderr.write(`${line}\n`);
    if (this.tty) this.draw(true);
  }

  private draw(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const overall = Math.min(1, (this.done + this.fraction) / this.total);
    const width = 30;
    const filled = Math.round(overall * width);
    const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
    const elapsed = Math.round((now - this.startedAt) / 1000);
    const columns = process.stderr.columns ?? 100;
    const line = `[${bar}] ${String(Math.floor(overall * 100)).padStart(3)}% ${elapsed}s  ${this.label}`;
    process.stderr.write(`\r\x1b[K${line.slice(0, columns - 1)}`);
  }
}
