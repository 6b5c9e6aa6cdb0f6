/**
 * The study's figures as SVG, drawn by Vega-Lite (compiled to a Vega spec, rendered headless with
 * `renderer: 'none'`): Fig. 2, training time against depth per backend, and Fig. 3, peak memory
 * against architecture per backend. The output depends only on the records (Vega emits no random
 * ids and estimates text widths without a canvas), so regenerated figures diff cleanly.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { ResultRecord } from '../runner/record.ts';
import { declaredFigureSpec, declaredFigures } from './declared-figures.ts';
import { fig2Points, fig2Records, fig3Points, fig3Records, FIGURE_FILES } from './figures-data.ts';
import type { ReportFile, Reporter } from './types.ts';
import { metricLabel, orderArchs, orderBackends } from './view.ts';

export interface SvgOptions {
  /**
   * Folder of the figures, relative to the output folder.
   * @default 'figures'
   */
  dir?: string;
  /**
   * Width of a figure's plotting area in pixels (the SVG adds axes, title and legend).
   * @default 480
   */
  width?: number;
  /**
   * Height of a figure's plotting area in pixels.
   * @default 300
   */
  height?: number;
  /**
   * Which training-phase memory figure Fig. 3 plots (`peak-rss`, `device`, …).
   * @default 'peak-rss'
   */
  memoryMetric?: string;
  /**
   * Font family names written into the SVG; the first one the viewer has is used.
   * @default 'DejaVu Sans, Helvetica, Arial, sans-serif'
   */
  font?: string;
}

/** Draws Fig. 2 and Fig. 3; a figure without any data point is not written. */
export class SvgReporter implements Reporter {
  readonly name = 'svg';
  private readonly options: Required<SvgOptions>;

  constructor(options: SvgOptions = {}) {
    this.options = {
      dir: options.dir ?? 'figures',
      width: options.width ?? 480,
      height: options.height ?? 300,
      memoryMetric: options.memoryMetric ?? 'peak-rss',
      font: options.font ?? 'DejaVu Sans, Helvetica, Arial, sans-serif',
    };
  }

  async render(records: readonly ResultRecord[]): Promise<ReportFile[]> {
    const out: ReportFile[] = [];
    const dir = this.options.dir.replace(/\/+$/, '');
    const at = (file: string) => (dir === '' ? file : `${dir}/${file}`);
    const f2 = this.fig2Spec(records);
    if (f2) out.push({ path: at(FIGURE_FILES.fig2), content: await toSvg(f2) });
    const f3 = this.fig3Spec(records);
    if (f3) out.push({ path: at(FIGURE_FILES.fig3), content: await toSvg(f3) });
    for (const f of declaredFigures(records)) {
      const style = { width: this.options.width, height: this.options.height, config: this.config() };
      const rs = records.filter((r) => r.experiment.name === f.experiment);
      const spec = declaredFigureSpec(f, { ...style, subtitle: subtitle(rs) });
      if (spec) out.push({ path: at(f.file), content: await toSvg(spec) });
    }
    return out;
  }

  /** The Vega-Lite spec of Fig. 2, or undefined without data. */
  fig2Spec(records: readonly ResultRecord[]): TopLevelSpec | undefined {
    const points = fig2Points(records);
    if (points.length === 0) return undefined;
    const archs = orderArchs(points.map((p) => p.arch));
    const backends = orderBackends(points.map((p) => p.backend));
    const x = { field: 'arch', type: 'ordinal', sort: archs, title: 'Architecture', axis: { labelAngle: 0 } } as const;
    const color = {
      field: 'backend',
      type: 'nominal',
      sort: backends,
      scale: { domain: backends },
      title: 'Backend',
    } as const;
    return {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: { text: 'Fig. 2: training time against depth', subtitle: subtitle(fig2Records(records)) },
      width: this.options.width,
      height: this.options.height,
      background: 'white',
      config: this.config(),
      data: { values: points.map((p) => ({ ...p })) },
      layer: [
        {
          mark: { type: 'rule' },
          encoding: { x, y: { field: 'low', type: 'quantitative' }, y2: { field: 'high' }, color },
        },
        {
          mark: { type: 'line', point: { filled: true, size: 50 } },
          encoding: {
            x,
            y: {
              field: 'seconds',
              type: 'quantitative',
              title: 'Training time (s, median ± MAD)',
              scale: { zero: true },
            },
            color,
          },
        },
      ],
    };
  }

  /** The Vega-Lite spec of Fig. 3, or undefined without data. */
  fig3Spec(records: readonly ResultRecord[]): TopLevelSpec | undefined {
    const metric = this.options.memoryMetric;
    const points = fig3Points(records, metric);
    if (points.length === 0) return undefined;
    const archs = orderArchs(points.map((p) => p.arch));
    const backends = orderBackends(points.map((p) => p.backend));
    const gib = Math.max(...points.map((p) => p.bytes)) >= 2 ** 30;
    const unit = gib ? 'GiB' : 'MiB';
    const scale = gib ? 2 ** 30 : 2 ** 20;
    return {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title: { text: 'Fig. 3: memory against architecture', subtitle: subtitle(fig3Records(records).records) },
      width: this.options.width,
      height: this.options.height,
      background: 'white',
      config: this.config(),
      data: { values: points.map((p) => ({ arch: p.arch, backend: p.backend, value: p.bytes / scale })) },
      mark: { type: 'bar' },
      encoding: {
        x: { field: 'arch', type: 'ordinal', sort: archs, title: 'Architecture', axis: { labelAngle: 0 } },
        xOffset: { field: 'backend', type: 'nominal', sort: backends },
        y: {
          field: 'value',
          type: 'quantitative',
          title: `${capitalise(metricLabel(metric))} during training (${unit})`,
        },
        color: { field: 'backend', type: 'nominal', sort: backends, scale: { domain: backends }, title: 'Backend' },
      },
    };
  }

  private config() {
    return { font: this.options.font, title: { subtitleColor: '#555' }, legend: { orient: 'right' as const } };
  }
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** "profile full · NVIDIA H100 (16 cores …)" for the records a figure draws. */
function subtitle(records: readonly ResultRecord[]): string {
  const profiles = [...new Set(records.map((r) => r.experiment.profile ?? 'base'))].sort();
  const machines = new Map(records.map((r) => [r.env.fingerprint, r.env]));
  const machine =
    machines.size === 1
      ? (() => {
          const env = [...machines.values()][0] as ResultRecord['env'];
          return env.gpu ? `${env.gpu} · ${env.cpu}` : `${env.cpu} (${env.cores} cores, no GPU)`;
        })()
      : `${machines.size} machines`;
  return `profile ${profiles.join(', ')} · ${machine}`;
}

/**
 * Compiles a Vega-Lite spec and renders it to an SVG string without a browser. The charting stack is
 * loaded here, when a figure is drawn: vega's module has a top-level await, so importing it with the
 * plugin or the public API would break a Vitest config or script in a CommonJS-type folder.
 */
export async function toSvg(spec: TopLevelSpec): Promise<string> {
  const [vega, vl] = await Promise.all([import('vega'), import('vega-lite')]);
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
