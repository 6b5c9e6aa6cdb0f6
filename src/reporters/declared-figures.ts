/**
 * The figures experiments declare (`figures:` in the file, carried by every record of the experiment):
 * a metric against a matrix key, one line per backend or per value of another key, drawn with the same
 * Vega-Lite rendering as the study's figures, and tabled in the markdown report. Points come from the
 * records alone, through the metric values of src/runner/metric-values.ts.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { FigureSpec } from '../config/figures.ts';
import { formatMetric, metricValue } from '../runner/metric-values.ts';
import type { ResultRecord } from '../runner/record.ts';
import type { MetricUnit } from '../vocab/metric-registry.ts';
import { metricDef } from '../vocab/metric-registry.ts';
import { mad, sortSamples } from '../stats/summary.ts';
import { describeConditions } from './conditions.ts';
import { orderArchs, orderBackends } from './view.ts';

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
    /** For a median of several repeats: their median absolute deviation and count, shown in the table. */
    spread?: { mad: number; n: number };
  }>;
  /** Records of the experiment that have no value of the metric (skipped, failed, not measured). */
  missing: number;
  /** The status of each case without a value, by series then x (`failed`, `skipped`, `not measured`). */
  gaps: Array<{ x: string | number; series: string; status: string }>;
  /** The experiment's records the figure is drawn from. */
  records: ResultRecord[];
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
      let missing = 0;
      for (const r of rs) {
        const v = r.status === 'passed' ? metricValue(r, spec.y) : undefined;
        const x = axisValue(r, spec.x);
        const series = axisValue(r, spec.series);
        if (!v || x === undefined || series === undefined) {
          missing++;
          if (x !== undefined && series !== undefined)
            gaps.push({ x, series: String(series), status: r.status === 'passed' ? 'not measured' : r.status });
        } else {
          const spread =
            v.how.startsWith('median of') && v.samples.length > 1
              ? { mad: mad(sortSamples(v.samples)), n: v.samples.length }
              : undefined;
          points.push({ x, series: String(series), value: v.value, ...(spread ? { spread } : {}) });
        }
      }
      const f = {
        experiment: name,
        spec,
        file: `${slug(name)}-${slug(spec.y)}-by-${slug(spec.x)}.svg`,
        title: spec.title ?? `${name}: ${spec.y} against ${spec.x}`,
        points,
        missing,
        gaps,
        records: rs,
      };
      const xs = xOrder(f);
      const series = seriesOrder(f);
      const rank = (p: { x: string | number; series: string }) =>
        series.indexOf(p.series) * xs.length + xs.indexOf(p.x);
      f.points.sort((a, b) => rank(a) - rank(b));
      f.gaps.sort((a, b) => rank(a) - rank(b));
      out.push(f);
    }
  }
  return out;
}

/** Seconds shown in ms when every value is below a second; other units as they are. */
function displayUnit(unit: MetricUnit, values: number[]): { scale: number; label: string } {
  if (unit === 's') return Math.max(...values) < 1 ? { scale: 1e3, label: 'ms' } : { scale: 1, label: 's' };
  if (unit === 'bytes') return { scale: 2 ** -20, label: 'MiB' };
  if (unit === 'fraction') return { scale: 100, label: '%' };
  return { scale: 1, label: unit };
}

/** The x values of a figure in drawing order: numbers ascending, architectures by depth, others as met. */
function xOrder(f: DeclaredFigure): Array<string | number> {
  const xs = [...new Set([...f.points.map((p) => p.x), ...f.gaps.map((g) => g.x)])];
  if (xs.every((x) => typeof x === 'number')) return (xs as number[]).sort((a, b) => a - b);
  if (f.spec.x === 'arch' || f.spec.x === 'model.arch') return orderArchs(xs.map(String));
  return xs;
}

/** The series of a figure in legend order: backends in the study's order, others as met. */
function seriesOrder(f: DeclaredFigure): string[] {
  const all = [...f.points.map((p) => p.series), ...f.gaps.map((g) => g.series)];
  return f.spec.series === 'backend' ? orderBackends(all) : [...new Set(all)];
}

/** The Vega-Lite spec of a declared figure (undefined without points). */
export function declaredFigureSpec(
  f: DeclaredFigure,
  style: { width: number; height: number; config: object; subtitle: string },
): TopLevelSpec | undefined {
  if (f.points.length === 0) return undefined;
  const def = metricDef(f.spec.y)!;
  const { scale, label } = displayUnit(
    def.unit,
    f.points.map((p) => p.value),
  );
  const numeric = f.points.every((p) => typeof p.x === 'number' && p.x > 0);
  const xs = f.points.map((p) => p.x as number);
  // Batch sizes and widths grow geometrically: a log axis spaces 1, 8, 64 evenly.
  const log = numeric && Math.max(...xs) / Math.min(...xs) >= 16;
  const series = seriesOrder(f).filter((s) => f.points.some((p) => p.series === s));
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: f.title, subtitle: style.subtitle },
    width: style.width,
    height: style.height,
    background: 'white',
    config: style.config,
    data: { values: f.points.map((p) => ({ x: p.x, series: p.series, value: p.value * scale })) },
    mark: { type: 'line', point: { filled: true, size: 50 } },
    encoding: {
      x: numeric
        ? {
            field: 'x',
            type: 'quantitative',
            title: f.spec.x,
            scale: log ? { type: 'log', base: 2 } : { zero: false },
            axis: { values: [...new Set(xs)].sort((a, b) => a - b) },
          }
        : {
            field: 'x',
            type: 'ordinal',
            title: f.spec.x,
            sort: xOrder(f)
              .filter((x) => f.points.some((p) => p.x === x))
              .map(String),
            axis: { labelAngle: 0 },
          },
      y: { field: 'value', type: 'quantitative', title: `${f.spec.y} (${label})`, scale: { zero: true } },
      color: { field: 'series', type: 'nominal', sort: series, scale: { domain: series }, title: f.spec.series },
    },
  };
}

/** Markdown of the declared figures: each linked, with a table of its points. */
export function declaredFiguresSection(records: readonly ResultRecord[], figuresDir: string, embed: boolean): string[] {
  const figs = declaredFigures(records).filter((f) => f.points.length > 0);
  if (figs.length === 0) return [];
  const dir = figuresDir.replace(/\/+$/, '');
  const out: string[] = ['## Declared figures'];
  for (const f of figs) {
    const def = metricDef(f.spec.y)!;
    const xs = xOrder(f);
    const series = seriesOrder(f);
    const rows = series.map((s) => {
      const cells = xs.map((x) => {
        const p = f.points.find((q) => q.series === s && q.x === x);
        const gap = f.gaps.find((g) => g.series === s && g.x === x);
        if (!p) return gap ? gap.status : '—';
        const spread = p.spread ? ` ± ${formatMetric(p.spread.mad, def.unit)} (n=${p.spread.n})` : '';
        return `${formatMetric(p.value, def.unit)}${spread}`;
      });
      return `| ${s} | ${cells.join(' | ')} |`;
    });
    out.push(
      [
        `### ${f.title}`,
        ...(embed ? ['', `![${f.title}](${dir === '' ? '' : `${dir}/`}${f.file})`] : []),
        '',
        `${f.spec.y}: ${def.description}${f.points.some((p) => p.spread) ? ' (± median absolute deviation, n repeats)' : ''}.${f.missing > 0 ? ` ${f.missing} case(s) without a value are not drawn.` : ''} ${describeConditions(f.records, f.spec.x !== 'arch' && f.spec.x !== 'model.arch')}`,
        '',
        `| ${f.spec.series} \\ ${f.spec.x} | ${xs.join(' | ')} |`,
        `|---|${xs.map(() => '---:').join('|')}|`,
        ...rows,
      ].join('\n'),
    );
  }
  return out;
}
