/**
 * A progress line for long training phases, printed while `vitest run` waits:
 *
 *     table2 › tfjs/cpu  epoch 3/10  step 412/781  loss 1.2345  1,234 img/s  ETA 4 min 12 s
 *
 * With evaluation during training, the latest test accuracy joins the line (`test 61.3% after epoch 2`);
 * images/s and the ETA count training time only.
 *
 * Shown on stderr when it is a terminal, or when `EXPBENCH_PROGRESS=1`; quiet in CI (`CI` set to a true
 * value) and when `EXPBENCH_PROGRESS=0`. Throttled, so printing never costs measurable time: on a
 * terminal the line is redrawn in place at most every 0.5 s; in a log, a full line at most every 10 s.
 */

export interface ProgressInfo {
  /** Usually the case key. */
  label?: string;
  /** 0-based epoch. */
  epoch: number;
  epochs: number;
  /** 0-based step within the epoch. */
  step: number;
  stepsPerEpoch: number;
  /** Latest loss read back, if any. */
  loss?: number;
  /** Throughput of the latest interval. */
  imagesPerSecond?: number;
  /** Seconds since the phase started (drives the ETA). */
  elapsedSeconds: number;
  /** The latest evaluation during training, if any: 1-based epoch, test accuracy and loss. */
  evaluated?: { epoch: number; accuracy: number; loss: number };
}

/** Formats one progress line (no newline). Pure. */
export function formatProgress(p: ProgressInfo): string {
  const done = p.epoch * p.stepsPerEpoch + p.step + 1;
  const total = p.epochs * p.stepsPerEpoch;
  const parts: string[] = [];
  if (p.label) parts.push(p.label);
  parts.push(`epoch ${p.epoch + 1}/${p.epochs}`, `step ${p.step + 1}/${p.stepsPerEpoch}`);
  if (p.loss !== undefined) parts.push(`loss ${Number.isFinite(p.loss) ? p.loss.toFixed(4) : String(p.loss)}`);
  if (p.imagesPerSecond !== undefined && Number.isFinite(p.imagesPerSecond))
    parts.push(`${Math.round(p.imagesPerSecond).toLocaleString('en-US')} img/s`);
  if (p.evaluated) parts.push(`test ${(p.evaluated.accuracy * 100).toFixed(1)}% after epoch ${p.evaluated.epoch}`);
  if (done > 0 && done < total && p.elapsedSeconds > 0)
    parts.push(`ETA ${formatEta((p.elapsedSeconds / done) * (total - done))}`);
  else if (done >= total) parts.push(`done in ${formatEta(p.elapsedSeconds)}`);
  return parts.join('  ');
}

/** `42 s`, `4 min 12 s`, `1 h 05 min`. */
export function formatEta(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

const truthy = (v: string | undefined) => v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';

/**
 * Whether progress should be shown: `EXPBENCH_PROGRESS` decides when set (`1`/`0`); otherwise on when
 * stderr is a terminal and not in CI.
 */
export function progressEnabled(
  env: NodeJS.ProcessEnv = process.env,
  isTTY: boolean = process.stderr.isTTY === true,
): boolean {
  const asked = env.EXPBENCH_PROGRESS;
  if (asked !== undefined && asked !== '') return truthy(asked);
  if (truthy(env.CI)) return false;
  return isTTY;
}

export interface ProgressOptions {
  /** Where to print. @default process.stderr */
  stream?: { write(s: string): unknown; isTTY?: boolean };
  /** Force on or off. @default progressEnabled() */
  enabled?: boolean;
  /** Minimum time between two lines. @default 500 on a terminal, 10000 otherwise */
  intervalMs?: number;
  /** Clock in ms (tests). @default Date.now */
  now?: () => number;
}

export interface ProgressPrinter {
  /** Offers a new state; printed when the throttle allows. */
  update(p: ProgressInfo): void;
  /** Prints the last state (if any was throttled away) and ends the line. */
  done(): void;
}

/** A throttled printer of {@link formatProgress} lines. */
export function createProgress(opts: ProgressOptions = {}): ProgressPrinter {
  const stream = opts.stream ?? process.stderr;
  const tty = stream.isTTY === true;
  const enabled = opts.enabled ?? progressEnabled(process.env, tty);
  const interval = opts.intervalMs ?? (tty ? 500 : 10_000);
  const now = opts.now ?? Date.now;
  let last = -Infinity;
  let pending: ProgressInfo | undefined;
  let drawn = false;
  const draw = (p: ProgressInfo) => {
    const line = formatProgress(p);
    // On a terminal: redraw in place and clear the rest of the old line.
    stream.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
    drawn = true;
    pending = undefined;
  };
  return {
    update(p) {
      if (!enabled) return;
      const t = now();
      if (t - last >= interval) {
        last = t;
        draw(p);
      } else {
        pending = p;
      }
    },
    done() {
      if (!enabled) return;
      if (pending) draw(pending);
      if (drawn && tty) stream.write('\n');
      drawn = false;
    },
  };
}
