/**
 * `expbench history [--file .expbench/history.json] [--case text] [--out dir]`: every series of the
 * history (a case, a metric, a machine), its latest value and the change points found in it by PELT
 * (src/stats/changepoints.ts, on the log of the medians, so a step is a relative change), and a trend
 * figure, `history.svg`: each series relative to its first level, change points marked.
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import type { TopLevelSpec } from 'vega-lite';
import { ExpbenchError } from '../errors.ts';
import { percent, seconds } from '../reporters/format.ts';
import { table } from '../reporters/markdown-table.ts';
import { toSvg } from '../reporters/svg.ts';
import { type HistorySeries, historySeries, readHistory } from '../runner/history.ts';
import { type ChangePoints, detectChangePoints } from '../stats/changepoints.ts';

export interface HistoryCommandArgs {
  file: string;
  /** Only series whose case key contains this text. */
  case?: string;
  /** Folder of the trend figure. */
  out: string;
}

export interface HistoryCommandIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

const processIo: HistoryCommandIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** Change points need a few points on each side to mean anything. */
const MIN_POINTS = 6;

export interface AnalysedSeries extends HistorySeries {
  /** Null when the series is too short to look for changes. */
  found: ChangePoints | null;
}

/** The change points of each series (PELT on the log of the medians). Pure. */
export function analyseHistory(series: readonly HistorySeries[]): AnalysedSeries[] {
  return series.map((s) => ({
    ...s,
    found: s.points.length >= MIN_POINTS ? detectChangePoints(s.points.map((p) => Math.log(p.median))) : null,
  }));
}

function value(metric: string, x: number): string {
  return metric === 'accuracy' ? percent(x) : seconds(x);
}

function changeText(s: AnalysedSeries): string {
  if (!s.found) return `too few points (${s.points.length} < ${MIN_POINTS})`;
  if (s.found.changes.length === 0) return 'none';
  return s.found.changes
    .map((i, j) => {
      const before = Math.exp(s.found!.segments[j]!.mean);
      const after = Math.exp(s.found!.segments[j + 1]!.mean);
      const p = s.points[i]!;
      const pct = (after / before - 1) * 100;
      return `at run ${i + 1} (${p.commit ? p.commit.slice(0, 10) : 'no commit'}, ${p.time.slice(0, 10)}): ${pct >= 0 ? '+' : '−'}${Math.abs(pct).toFixed(1)} %`;
    })
    .join('; ');
}

/** The listing as a markdown table. */
export function historyTable(series: readonly AnalysedSeries[]): string {
  return table(
    ['Case', 'Metric', 'Machine', 'Runs', 'Latest', 'Change points'],
    series.map((s) => [
      s.key,
      s.metric,
      s.machine.slice(0, 8),
      String(s.points.length),
      value(s.metric, s.points[s.points.length - 1]!.median),
      changeText(s),
    ]),
    ['left', 'left', 'left', 'right', 'right', 'left'],
  );
}

/** The trend figure: every series over its runs, relative to its first level; change points as dots. */
export function trendSpec(series: readonly AnalysedSeries[]): TopLevelSpec {
  const rows = series.flatMap((s) => {
    const first = s.found ? Math.exp(s.found.segments[0]!.mean) : s.points[0]!.median;
    const changes = new Set(s.found?.changes ?? []);
    return s.points.map((p, i) => ({
      series: `${s.key} · ${s.metric}`,
      run: i + 1,
      relative: p.median / first,
      change: changes.has(i),
    }));
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'History: each series relative to its first level', subtitle: 'dots: change points (PELT)' },
    width: 560,
    height: 280,
    data: { values: rows },
    layer: [
      {
        mark: { type: 'line', strokeWidth: 1.5 },
        encoding: {
          x: { field: 'run', type: 'quantitative', title: 'run' },
          y: { field: 'relative', type: 'quantitative', title: 'median / first level', scale: { zero: false } },
          color: { field: 'series', type: 'nominal', title: null },
        },
      },
      {
        transform: [{ filter: 'datum.change' }],
        mark: { type: 'point', filled: true, size: 60 },
        encoding: {
          x: { field: 'run', type: 'quantitative' },
          y: { field: 'relative', type: 'quantitative' },
          color: { field: 'series', type: 'nominal', title: null },
        },
      },
    ],
    config: { font: 'DejaVu Sans, Helvetica, Arial, sans-serif' },
  };
}

/** Runs the command: 0 when listed, 1 when the history cannot be read or holds nothing to show. */
export async function runHistoryCommand(args: HistoryCommandArgs, io: HistoryCommandIo = processIo): Promise<number> {
  let file: Awaited<ReturnType<typeof readHistory>>;
  try {
    file = await readHistory(resolve(args.file));
  } catch (e) {
    if (e instanceof ExpbenchError) {
      io.err(`expbench history: ${e.message}${e.hint ? `\nhint: ${e.hint}` : ''}`);
      return 1;
    }
    throw e;
  }
  const series = analyseHistory(
    historySeries(file).filter((s) => args.case === undefined || s.key.includes(args.case)),
  );
  if (series.length === 0) {
    io.err(
      `expbench history: no series in ${args.file}${args.case ? ` for cases containing "${args.case}"` : ''}; runs append to it at the end of vitest run`,
    );
    return 1;
  }
  io.out(historyTable(series));
  io.out(
    '\nChange points: PELT (Killick, Fearnhead & Eckley, JASA 2012) on the log of each run’s median, normal mean-change cost, penalty 3·ln n.',
  );
  await mkdir(resolve(args.out), { recursive: true });
  const svg = join(resolve(args.out), 'history.svg');
  await writeFileAtomic(svg, await toSvg(trendSpec(series)), { encoding: 'utf8' });
  io.out(`wrote ${svg}`);
  return 0;
}
