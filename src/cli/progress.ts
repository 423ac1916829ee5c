/**
 * Progress display for long work: a redrawn single-line bar on a terminal, plain lines otherwise
 * (CI logs, pipes), nothing with --quiet. Writes to stderr so stdout stays clean for results and --json.
 */
export interface Reporter {
  /** A task with a known amount of work (e.g. bytes, diffusion steps); `done` of `total`. */
  progress(label: string, done: number, total: number | null, unit?: 'bytes' | 'steps'): void;
  /** A one-off line. */
  info(line: string): void;
  /** Ends the current bar line. */
  flush(): void;
}

export function createReporter(opts: { quiet?: boolean; stream?: NodeJS.WriteStream } = {}): Reporter {
  const stream = opts.stream ?? process.stderr;
  if (opts.quiet) return { progress() {}, info() {}, flush() {} };
  return stream.isTTY ? new BarReporter(stream) : new LineReporter(stream);
}

function fmt(n: number, unit?: 'bytes' | 'steps'): string {
  if (unit !== 'bytes') return String(n);
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)} kB`;
  return `${n} B`;
}

class BarReporter implements Reporter {
  private active = false;
  private last = 0;
  constructor(private readonly stream: NodeJS.WriteStream) {}

  progress(label: string, done: number, total: number | null, unit?: 'bytes' | 'steps'): void {
    const t = Date.now();
    if (total !== null && done < total && t - this.last < 80) return; // redraw at most ~12 times a second
    this.last = t;
    const width = Math.max(10, Math.min(40, (this.stream.columns ?? 80) - label.length - 30));
    let bar = '';
    if (total) {
      const f = Math.min(1, done / total);
      const full = Math.round(f * width);
      bar = `[${'#'.repeat(full)}${'-'.repeat(width - full)}] ${(f * 100).toFixed(0).padStart(3)}% ${fmt(done, unit)}/${fmt(total, unit)}`;
    } else {
      bar = fmt(done, unit);
    }
    this.stream.write(`\r\x1b[2K${label} ${bar}`);
    this.active = true;
  }

  info(line: string): void {
    this.flush();
    this.stream.write(`${line}\n`);
  }

  flush(): void {
    if (this.active) this.stream.write('\n');
    this.active = false;
  }
}

class LineReporter implements Reporter {
  private lastKey = '';
  private lastPct = -1;
  constructor(private readonly stream: NodeJS.WriteStream) {}

  progress(label: string, done: number, total: number | null, unit?: 'bytes' | 'steps'): void {
    // One line per label at 0, every 25%, and 100%, so logs stay short.
    const pct = total ? Math.floor((100 * done) / total / 25) * 25 : -1;
    if (label === this.lastKey && pct === this.lastPct) return;
    this.lastKey = label;
    this.lastPct = pct;
    const amount = total ? `${fmt(done, unit)}/${fmt(total, unit)} (${Math.round((100 * done) / total)}%)` : fmt(done, unit);
    this.stream.write(`${label} ${amount}\n`);
  }

  info(line: string): void { this.stream.write(`${line}\n`); }
  flush(): void {}
}
