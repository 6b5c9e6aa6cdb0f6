/**
 * `figures:` — figures an experiment declares (`{ x: inference.batchSize, y: latency.p50, series:
 * backend }`), drawn by the reporters from the records: the schema fragment, the typed form, and the
 * checks that x and series name an axis of the experiment and y a metric it measures.
 */
import { metricDef, metricNames } from '../vocab/metric-registry.ts';
import type { MatrixAxis } from './matrix.ts';
import type { MetricProblem, MetricsConfig } from './metrics-config.ts';
import { declaresMetric } from './metrics-config.ts';
import type { JsonSchema } from './schema.ts';
import { didYouMean } from './suggest.ts';

export interface FigureSpec {
  /** `backend`, `arch`, or a matrix key of the experiment. */
  x: string;
  /** A metric the experiment measures (src/vocab/metric-registry.ts). */
  y: string;
  /** What each line is: `backend` (default), `arch`, or a matrix key. */
  series: string;
  /** Title above the figure (default: `y against x`). */
  title?: string;
}

/** A figure as written in a file (`series` may be left out). */
export type FigureValue = Omit<FigureSpec, 'series'> & { series?: string };

/** Axes every experiment has, besides its matrix keys. */
const BUILTIN_AXES = ['backend', 'arch'] as const;

export const figuresSchema: JsonSchema = {
  type: 'array',
  description:
    'Figures drawn from the results: a metric (y) against a matrix key (x), one line per backend or per value of another key (series).',
  maxItems: 32,
  items: {
    type: 'object',
    description: 'One figure, e.g. `{ x: inference.batchSize, y: latency.p50, series: backend }`.',
    additionalProperties: false,
    required: ['x', 'y'],
    properties: {
      x: { type: 'string', minLength: 1, description: 'Horizontal axis: `backend`, `arch`, or a matrix key.' },
      y: { type: 'string', minLength: 1, description: 'Vertical axis: a metric the experiment measures.' },
      series: {
        type: 'string',
        minLength: 1,
        description: 'One line per value of this: `backend`, `arch`, or a matrix key.',
        default: 'backend',
      },
      title: { type: 'string', minLength: 1, maxLength: 200, description: 'Title above the figure.' },
    },
  },
};

/** Typed figures, with a problem for each axis the experiment lacks and each metric it does not measure. */
export function figuresFromYaml(
  raw: unknown,
  axes: readonly MatrixAxis[],
  metrics: MetricsConfig,
): { figures: FigureSpec[]; problems: MetricProblem[] } {
  const figures: FigureSpec[] = [];
  const problems: MetricProblem[] = [];
  const axisNames = [...BUILTIN_AXES, ...axes.map((a) => a.key)];
  ((raw ?? []) as Array<Record<string, string>>).forEach((f, i) => {
    let ok = true;
    for (const side of ['x', 'series'] as const) {
      const v = f[side] ?? 'backend';
      if (axisNames.includes(v)) continue;
      ok = false;
      const guess = didYouMean(v, axisNames);
      problems.push({
        paths: [['figures', i, side]],
        target: 'value',
        reason: 'figure',
        message: `figures[${i}].${side}: "${v}" is not an axis of this experiment`,
        hint: `${guess ? `did you mean "${guess}"? ` : ''}axes: ${axisNames.join(', ')} (a key becomes an axis when it is listed under matrix:)`,
      });
    }
    const def = metricDef(f.y!);
    if (!def || !declaresMetric(metrics, f.y!)) {
      ok = false;
      const guess = didYouMean(f.y!, metricNames());
      problems.push({
        paths: [['figures', i, 'y']],
        target: 'value',
        reason: 'figure',
        message: def
          ? `figures[${i}].y: the experiment does not measure ${f.y}`
          : `figures[${i}].y: unknown metric "${f.y}"`,
        hint: def
          ? `declare it under metrics:`
          : `${guess ? `did you mean "${guess}"? ` : ''}metrics: ${metricNames().join(', ')}, top<k>`,
      });
    }
    if (ok) figures.push({ x: f.x!, y: f.y!, series: f.series ?? 'backend', ...(f.title ? { title: f.title } : {}) });
  });
  return { figures, problems };
}
