/**
 * The figures experiments declare (`figures:` in the file, carried by every record of the experiment):
 * a metric against a matrix key, one line per backend or per value of another key, drawn with
 * Vega-Lite (median ± MAD bars where a point is a median of repeats, the experiment file's `reference`
 * figures as dashed lines) and tabled in the markdown report (`markdown-declared.ts`). Points come
 * from the records alone, through the metric values of src/runner/metric-values.ts.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { FigureSpec } from '../config/figures.ts';
import { checkBytes, checkDuration } from '../config/units.ts';
import { metricValue } from '../runner/metric-values.ts';
import type { ResultRecord } from '../runner/record.ts';
import { mad, sortSamples } from '../stats/summary.ts';
import type { MetricUnit } from '../vocab/metric-registry.ts';
import { metricDef } from '../vocab/metric-registry.ts';
import { newestBy } from './newest.ts';
import { orderArchs, orderBackends, referenceFor, type StudyReference } from './view.ts';

export interface DeclaredFigure {
  experiment: string;
  spec: FigureSpec;
  /** File name inside the figures folder. */
  file: string;
  title: string;
  points: Array<{
    x: string | number;
    series: string;
    value: number;
    /** For a median of repeats: their median absolute deviation and count, shown in the table (bars from 2 on). */
    spread?: { mad: number; n: number };
  }>;
  /** Records of the experiment that have no value of the metric (skipped, failed, not measured). */
  missing: number;
  /** The status of each case without a value, by series then x (`failed`, `skipped`, `not measured`). */
  gaps: Array<{ x: string | number; series: string; status: string }>;
  /** The experiment's records the figure is drawn from. */
  records: ResultRecord[];
  /** The record of each (x, series) cell, the newest where several cover it, by series then x. */
  cases: Array<{ x: string | number; series: string; record: ResultRecord }>;
}

/** The value of axis `key` for a record: its backend, its architecture, or its matrix point's value. */
function axisValue(r: ResultRecord, key: string): string | number | undefined {
  if (key === 'backend') return r.backend.requested;
  if (key === 'arch') return r.experiment.arch;
  const v = r.experiment.point?.[key] ?? (key === 'model.arch' ? r.experiment.arch : undefined);
  return typeof v === 'boolean' ? String(v) : v;
}

const slug = (s: string) => s.replace(/[^A-Za-z0-9.-]+/g, '-').replace(/^-|-$/g, '');

/** Every declared figure of the records, by experiment name, with its points in series then x order. */
export function declaredFigures(records: readonly ResultRecord[]): DeclaredFigure[] {
  const byExperiment = new Map<string, ResultRecord[]>();
  for (const r of records) byExperiment.set(r.experiment.name, [...(byExperiment.get(r.experiment.name) ?? []), r]);
  const out: DeclaredFigure[] = [];
  // In name order, whatever order the records came in, so regenerated reports diff cleanly.
  for (const [name, rs] of [...byExperiment].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const specs = rs.find((r) => r.experiment.figures)?.experiment.figures ?? [];
    for (const spec of specs) {
      const points: DeclaredFigure['points'] = [];
      const gaps: DeclaredFigure['gaps'] = [];
      const placed = rs.filter((r) => axisValue(r, spec.x) !== undefined && axisValue(r, spec.series) !== undefined);
      // One record per cell: a case run twice (two profiles, a rerun) shows its newest figure.
      const cases = [
        ...newestBy(placed, (r) => `${axisValue(r, spec.x)}\u0000${axisValue(r, spec.series)}`).values(),
      ].map((record) => ({
        x: axisValue(record, spec.x) as string | number,
        series: String(axisValue(record, spec.series)),
        record,
      }));
      for (const { x, series, record: r } of cases) {
        // A case that failed a check still measured its figures; one that was skipped has none.
        const v = r.status === 'skipped' ? undefined : metricValue(r, spec.y);
        if (!v) {
          gaps.push({ x, series, status: r.status === 'passed' ? 'not measured' : r.status });
        } else {
          const spread = v.how.startsWith('median of')
            ? { mad: mad(sortSamples(v.samples)), n: v.samples.length }
            : undefined;
          points.push({ x, series, value: v.value, ...(spread ? { spread } : {}) });
        }
      }
      const f = {
        experiment: name,
        spec,
        file: `${slug(name)}-${slug(spec.y)}-by-${slug(spec.x)}.svg`,
        title: spec.title ?? `${name}: ${spec.y} against ${spec.x}`,
        points,
        missing: rs.length - placed.length + gaps.length,
        gaps,
        records: rs,
        cases,
      };
      const xs = xOrder(f);
      const series = seriesOrder(f);
      const rank = (p: { x: string | number; series: string }) =>
        series.indexOf(p.series) * xs.length + xs.indexOf(p.x);
      f.points.sort((a, b) => rank(a) - rank(b));
      f.gaps.sort((a, b) => rank(a) - rank(b));
      f.cases.sort((a, b) => rank(a) - rank(b));
      out.push(f);
    }
  }
  return out;
}

/** Seconds shown in ms when every value is below a second; bytes in GiB from 1 GiB up; others as they are. */
function displayUnit(unit: MetricUnit, values: number[]): { scale: number; label: string } {
  if (unit === 's') return Math.max(...values) < 1 ? { scale: 1e3, label: 'ms' } : { scale: 1, label: 's' };
  if (unit === 'bytes')
    return Math.max(...values) >= 2 ** 30 ? { scale: 2 ** -30, label: 'GiB' } : { scale: 2 ** -20, label: 'MiB' };
  if (unit === 'fraction') return { scale: 100, label: '%' };
  return { scale: 1, label: unit };
}

/** The x values of a figure in drawing order: numbers ascending, architectures by depth, others as met. */
export function xOrder(f: Pick<DeclaredFigure, 'cases' | 'spec'>): Array<string | number> {
  const xs = [...new Set(f.cases.map((c) => c.x))];
  if (xs.every((x) => typeof x === 'number')) return (xs as number[]).sort((a, b) => a - b);
  if (f.spec.x === 'arch' || f.spec.x === 'model.arch') return orderArchs(xs.map(String));
  return xs;
}

/** The series of a figure in legend order: backends in the study's order, others as met. */
export function seriesOrder(f: Pick<DeclaredFigure, 'cases' | 'spec'>): string[] {
  const all = f.cases.map((c) => c.series);
  return f.spec.series === 'backend' ? orderBackends(all) : [...new Set(all)];
}

/**
 * The experiment file's `reference` figures that belong beside a declared figure: a block whose unit
 * measures what the metric does (a time beside `time.*` and latencies, a size beside `memory.*`),
 * placing a figure under the metric's phase (`train` beside `time.train` or `memory.train`, the same
 * figure for every x) or under an x value (`tensorflow: { vgg16: 123 }`).
 */
export interface FigureReference {
  ref: StudyReference;
  /** The key of the block a row of x shows, or undefined where it places nothing for x. */
  keyOf(x: string | number): string | undefined;
  /** Metric units (seconds, bytes) per unit of the block, to draw its figures; undefined where unknown. */
  scale: number | undefined;
}

const has = (ref: StudyReference, key: string) => ref.tensorflow[key] !== undefined || ref.caffe2[key] !== undefined;

export function figureReference(f: Pick<DeclaredFigure, 'records' | 'spec'>): FigureReference | undefined {
  const unit = metricDef(f.spec.y)?.unit;
  const kind = unit === 's' ? 'time' : unit === 'bytes' ? 'memory' : undefined;
  if (kind === undefined) return undefined;
  const { ref } = referenceFor(f.records, kind);
  if (ref === undefined) return undefined;
  const [group, phase] = f.spec.y.split('.');
  const byPhase = (group === 'time' || group === 'memory') && phase !== undefined && has(ref, phase);
  const keyOf = (x: string | number) => (byPhase ? phase : has(ref, String(x)) ? String(x) : undefined);
  const one = kind === 'time' ? checkDuration(`1${ref.unit}`) : checkBytes(`1${ref.unit}`);
  return { ref, keyOf, scale: one.ok ? one.value : undefined };
}

/** The series a reference side is drawn and tabled as: `study (K80) TF`. */
export function referenceSeries(ref: StudyReference, side: 'tensorflow' | 'caffe2'): string {
  return `${ref.label} ${ref.names[side]}`;
}

/** The reference figures to draw, in the metric's unit, at the x values the figure has points for. */
function referencePoints(f: DeclaredFigure): Array<{ x: string | number; series: string; value: number }> {
  const r = figureReference(f);
  if (r === undefined || r.scale === undefined) return [];
  const xs = xOrder(f).filter((x) => f.points.some((p) => p.x === x));
  return (['tensorflow', 'caffe2'] as const).flatMap((side) =>
    xs.flatMap((x) => {
      const key = r.keyOf(x);
      const v = key === undefined ? undefined : r.ref[side][key];
      return v === undefined ? [] : [{ x, series: referenceSeries(r.ref, side), value: v * (r.scale as number) }];
    }),
  );
}

/** The Vega-Lite spec of a declared figure (undefined without points). */
export function declaredFigureSpec(
  f: DeclaredFigure,
  style: { width: number; height: number; config: object; subtitle: string },
): TopLevelSpec | undefined {
  if (f.points.length === 0) return undefined;
  const def = metricDef(f.spec.y)!;
  const refs = referencePoints(f);
  const { scale, label } = displayUnit(
    def.unit,
    [...f.points, ...refs].map((p) => p.value),
  );
  const numeric = f.points.every((p) => typeof p.x === 'number' && p.x > 0);
  const xs = f.points.map((p) => p.x as number);
  // Batch sizes and widths grow geometrically: a log axis spaces 1, 8, 64 evenly.
  const log = numeric && Math.max(...xs) / Math.min(...xs) >= 16;
  const measured = seriesOrder(f).filter((s) => f.points.some((p) => p.series === s));
  const series = [...measured, ...new Set(refs.map((p) => p.series))];
  const spread = f.points.filter((p) => (p.spread?.n ?? 0) > 1);
  const x = numeric
    ? {
        field: 'x',
        type: 'quantitative' as const,
        title: f.spec.x,
        scale: log ? { type: 'log' as const, base: 2 } : { zero: false },
        axis: { values: [...new Set(xs)].sort((a, b) => a - b) },
      }
    : {
        field: 'x',
        type: 'ordinal' as const,
        title: f.spec.x,
        sort: xOrder(f)
          .filter((v) => f.points.some((p) => p.x === v))
          .map(String),
        axis: { labelAngle: 0 },
      };
  const title = `${f.spec.y} (${label}${spread.length > 0 ? ', median ± MAD' : ''})`;
  const y = { field: 'value', type: 'quantitative' as const, title, scale: { zero: true } };
  const color = {
    field: 'series',
    type: 'nominal' as const,
    sort: series,
    scale: { domain: series },
    title: f.spec.series,
  };
  const values = (ps: typeof f.points) => ps.map((p) => ({ x: p.x, series: p.series, value: p.value * scale }));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: f.title,
      subtitle:
        refs.length > 0
          ? [style.subtitle, `dashed: ${[...new Set(refs.map((p) => p.series))].join(', ')}, as published`]
          : style.subtitle,
    },
    width: style.width,
    height: style.height,
    background: 'white',
    config: style.config,
    layer: [
      ...(spread.length > 0
        ? [
            {
              data: {
                values: spread.map((p) => ({
                  x: p.x,
                  series: p.series,
                  low: (p.value - p.spread!.mad) * scale,
                  high: (p.value + p.spread!.mad) * scale,
                })),
              },
              mark: { type: 'rule' as const },
              encoding: { x, y: { ...y, field: 'low' }, y2: { field: 'high' }, color },
            },
          ]
        : []),
      {
        data: { values: values(f.points) },
        mark: { type: 'line', point: { filled: true, size: 50 } },
        encoding: { x, y, color },
      },
      ...(refs.length > 0
        ? [
            {
              data: { values: values(refs) },
              mark: { type: 'line' as const, strokeDash: [6, 4], point: { shape: 'diamond', size: 50 } },
              encoding: { x, y, color },
            },
          ]
        : []),
    ],
  };
}
