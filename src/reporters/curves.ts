/**
 * Training recipes in the report: for every experiment that evaluated during training, one SVG figure
 * of test accuracy and test loss per evaluated epoch, a line per backend (the median over seeds, with
 * the seeds' min–max as a band), and `time-to-accuracy.md`, which says what ran (data, sizes, recipe,
 * machine) and tables per backend the final accuracy and the time to the target as the median and the
 * range (min–max) over the seeds, then every evaluated epoch with the training time spent to it, as DAWNBench and MLPerf Training report several runs. Records
 * without curves are left to the other reporters; nothing is written when no record has any.
 */
import type { TopLevelSpec } from 'vega-lite';
import { formatSeconds } from '../stats/format.ts';
import { summarize } from '../stats/summary.ts';
import type { ResultRecord } from '../runner/record.ts';
import { toSvg } from './svg.ts';
import type { ReportFile, Reporter } from './types.ts';
import { orderBackends } from './view.ts';

export interface CurvesOptions {
  /** Folder of the figures, relative to the output folder. @default 'figures' */
  dir?: string;
  /** Name of the markdown file. @default 'time-to-accuracy.md' */
  file?: string;
  /** Width of each panel's plotting area in pixels. @default 420 */
  width?: number;
  /** Height of each panel's plotting area in pixels. @default 220 */
  height?: number;
}

/** The median and min–max over seeds of one backend's evaluations after one epoch. */
interface CurveRow {
  backend: string;
  epoch: number;
  metric: 'accuracy' | 'loss';
  median: number;
  low: number;
  high: number;
  seeds: number;
}

/** The records of one experiment (and architecture) with evaluation curves. */
function groups(records: readonly ResultRecord[]): Map<string, ResultRecord[]> {
  const out = new Map<string, ResultRecord[]>();
  for (const r of records) {
    if (!r.curves?.length && !r.timeToAccuracy) continue;
    const key = `${r.experiment.name}${r.experiment.arch ? ` › ${r.experiment.arch}` : ''}`;
    out.set(key, [...(out.get(key) ?? []), r]);
  }
  return out;
}

/** A record's evaluations grouped by epoch, over its seeds, in epoch order. */
function pointsByEpoch(r: ResultRecord): [number, { accuracy: number[]; loss: number[]; seconds: number[] }][] {
  const byEpoch = new Map<number, { accuracy: number[]; loss: number[]; seconds: number[] }>();
  for (const c of r.curves ?? [])
    for (const p of c.points) {
      const e = byEpoch.get(p.epoch) ?? { accuracy: [], loss: [], seconds: [] };
      e.accuracy.push(p.accuracy);
      e.loss.push(p.loss);
      e.seconds.push(p.trainSeconds);
      byEpoch.set(p.epoch, e);
    }
  return [...byEpoch].sort((a, b) => a[0] - b[0]);
}

/** Per backend, metric and epoch: the median and range over the seeds that evaluated that epoch. */
export function curveRows(records: readonly ResultRecord[]): CurveRow[] {
  const rows: CurveRow[] = [];
  for (const r of records) {
    for (const [epoch, v] of pointsByEpoch(r))
      for (const metric of ['accuracy', 'loss'] as const) {
        const s = summarize(v[metric]);
        rows.push({
          backend: r.backend.requested,
          epoch,
          metric,
          median: s.median,
          low: s.min,
          high: s.max,
          seeds: s.n,
        });
      }
  }
  return rows;
}

function fileSafe(name: string): string {
  return name.replace(/\s*›\s*/g, '-').replace(/[^A-Za-z0-9._-]+/g, '-');
}

function pct(x: number): string {
  return `${(x * 100).toFixed(1)} %`;
}

/** "median (min–max)" of `xs` with `fmt`; one value alone when there is one. */
function spread(xs: number[], fmt: (v: number) => string): string {
  if (xs.length === 0) return '—';
  const s = summarize(xs);
  return s.n === 1 ? fmt(s.median) : `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;
}

/**
 * Every evaluated epoch per backend: test accuracy and loss, and the training time spent to that epoch
 * (evaluation excluded), so the time to any accuracy reached can be read off. Over several seeds, the
 * median and range of each.
 */
function epochTable(recs: readonly ResultRecord[]): string[] {
  const lines: string[] = [];
  for (const r of recs) {
    const byEpoch = pointsByEpoch(r);
    if (byEpoch.length === 0) continue;
    lines.push(
      `<details><summary>${r.backend.requested}: every evaluated epoch</summary>`,
      '',
      '| epoch | test accuracy | test loss | training time to this epoch |',
      '|---:|---:|---:|---:|',
      ...byEpoch.map(
        ([epoch, v]) =>
          `| ${epoch} | ${spread(v.accuracy, pct)} | ${spread(v.loss, (x) => x.toFixed(3))} | ${spread(v.seconds, formatSeconds)} |`,
      ),
      '',
      '</details>',
      '',
    );
  }
  return lines;
}

export class CurvesReporter implements Reporter {
  readonly name = 'curves';
  private readonly o: Required<CurvesOptions>;

  constructor(options: CurvesOptions = {}) {
    this.o = {
      dir: options.dir ?? 'figures',
      file: options.file ?? 'time-to-accuracy.md',
      width: options.width ?? 420,
      height: options.height ?? 220,
    };
  }

  async render(records: readonly ResultRecord[]): Promise<ReportFile[]> {
    const found = groups(records);
    if (found.size === 0) return [];
    const dir = this.o.dir.replace(/\/+$/, '');
    const files: ReportFile[] = [];
    const md: string[] = [
      '# Time to accuracy',
      '',
      'Generated by `expbench report` from the result records. Per experiment: test accuracy and loss after each evaluated epoch, and the time to the accuracy target. Training time excludes evaluation (its own timed phase). Over several seeds the figures are the **median and the range (min–max)** over the seeds, with the number of seeds given.',
      '',
    ];
    for (const [name, recs] of found) {
      const byBackend = orderBackends(recs.map((r) => r.backend.requested)).map(
        (b) => recs.find((r) => r.backend.requested === b)!,
      );
      md.push(`## ${name}`, '', ...this.describe(byBackend), '');
      const rows = curveRows(byBackend);
      if (rows.length > 0) {
        const path = `${dir === '' ? '' : `${dir}/`}${fileSafe(name)}-curves.svg`;
        files.push({ path, content: await toSvg(this.spec(name, rows)) });
        md.push(`![test accuracy and loss per epoch of ${name}](${path})`, '');
      }
      md.push(...this.table(byBackend), '', ...epochTable(byBackend));
    }
    files.unshift({ path: this.o.file, content: `${md.join('\n').trimEnd()}\n` });
    return files;
  }

  /** What ran: data, sizes, recipe, profile and machine, from the first record. */
  private describe(recs: ResultRecord[]): string[] {
    const r = recs[0]!;
    const e = r.experiment;
    const data = e.dataset ? `${e.dataset.kind} (${e.dataset.source})` : 'unknown data';
    const synthetic =
      e.dataset?.kind === 'synthetic' ? ' — **synthetic data: a check of the machinery, not a result**' : '';
    return [
      `- data: ${data}, ${e.trainExamples.toLocaleString('en-US')} training and ${e.testExamples.toLocaleString('en-US')} test images${synthetic}`,
      `- model: ${e.arch}${e.width !== undefined ? `, width ${e.width}` : ''}${e.batchNorm ? ', batch norm' : ''}${e.paramCount ? ` (${e.paramCount.toLocaleString('en-US')} parameters)` : ''}; up to ${e.epochs} epochs, batch ${e.batchSize}; profile ${e.profile ?? 'base'}`,
      ...(r.recipe ? [`- recipe: ${r.recipe}`] : []),
      `- machine: ${r.env.cpu} (${r.env.cores} cores)${r.env.gpu ? `, ${r.env.gpu}` : ''}; ${r.env.os}, Node ${r.env.node}`,
    ];
  }

  private table(recs: ResultRecord[]): string[] {
    const target = recs.find((r) => r.timeToAccuracy)?.timeToAccuracy?.target;
    const head = ['backend', 'seeds', 'final test accuracy', 'best evaluated accuracy'];
    if (target !== undefined) head.push(`training time to ${pct(target)}`, 'epochs to target', 'reached');
    const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
    for (const r of recs) {
      const id = r.backend.requested;
      if (r.status === 'skipped') {
        lines.push(`| ${id} | skipped: ${r.skipReason ?? ''} |`);
        continue;
      }
      const best = (r.curves ?? []).map((c) => Math.max(...c.points.map((p) => p.accuracy)));
      const cells = [
        id,
        String(r.seeds?.length ?? r.curves?.length ?? r.accuracy?.samples.length ?? 0),
        spread(r.accuracy?.samples ?? [], pct),
        spread(best, pct),
      ];
      const t = r.timeToAccuracy;
      if (target !== undefined) {
        const reached = (t?.samples ?? []).filter((s) => s.reached);
        cells.push(
          spread(
            reached.map((s) => s.seconds!),
            formatSeconds,
          ),
          spread(
            reached.map((s) => s.epochs!),
            (v) => String(v),
          ),
          `${reached.length} of ${t?.samples.length ?? 0}`,
        );
      }
      lines.push(`| ${cells.join(' | ')} |`);
      if (r.status !== 'passed' && r.error)
        lines.push(`| | ${r.status}: ${r.error.code} ${r.error.message.split('\n')[0]} |`);
    }
    const missed = recs.flatMap((r) =>
      (r.timeToAccuracy?.samples ?? [])
        .filter((s) => !s.reached)
        .map(
          (s) =>
            `${r.backend.requested}, seed ${s.seed}: best ${pct(s.best.accuracy)} at epoch ${s.best.epoch}${s.ended === 'stopAfter' ? ' (a run truncated by training.stopAfter: not judged)' : ''}`,
        ),
    );
    if (missed.length) lines.push('', `Target not reached — ${missed.join('; ')}.`);
    return lines;
  }

  /** Accuracy and loss panels side by side, a line per backend (median over seeds) and a min–max band. */
  spec(name: string, rows: CurveRow[]): TopLevelSpec {
    const backends = orderBackends(rows.map((r) => r.backend));
    const color = {
      field: 'backend',
      type: 'nominal',
      sort: backends,
      scale: { domain: backends },
      title: 'Backend',
    } as const;
    const panel = (metric: 'accuracy' | 'loss', title: string) => ({
      width: this.o.width,
      height: this.o.height,
      transform: [{ filter: { field: 'metric', equal: metric } }],
      layer: [
        {
          mark: { type: 'area' as const, opacity: 0.2 },
          encoding: {
            x: { field: 'epoch', type: 'quantitative' as const, title: 'Epoch' },
            y: { field: 'low', type: 'quantitative' as const, title },
            y2: { field: 'high' },
            color,
          },
        },
        {
          mark: { type: 'line' as const, point: { filled: true, size: 30 } },
          encoding: {
            x: { field: 'epoch', type: 'quantitative' as const, title: 'Epoch' },
            y: { field: 'median', type: 'quantitative' as const, title, scale: { zero: false } },
            color,
          },
        },
      ],
    });
    const seeds = Math.max(...rows.map((r) => r.seeds));
    return {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: {
        text: `${name}: test accuracy and loss per epoch`,
        subtitle: seeds > 1 ? `median over ${seeds} seeds, band: min–max` : 'one seed',
      },
      background: 'white',
      config: { font: 'DejaVu Sans, Helvetica, Arial, sans-serif', title: { subtitleColor: '#555' } },
      data: { values: rows.map((r) => ({ ...r })) },
      hconcat: [panel('accuracy', 'Test accuracy'), panel('loss', 'Test loss (cross-entropy)')],
    } as TopLevelSpec;
  }
}
