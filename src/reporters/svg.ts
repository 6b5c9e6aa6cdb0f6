/**
 * The declared figures as SVG (`figures:` in an experiment file, the study's Fig. 2 and Fig. 3
 * included), drawn by Vega-Lite (compiled to a Vega spec, rendered headless with `renderer: 'none'`). The output depends only on the records (Vega emits no random
 * ids and estimates text widths without a canvas), so regenerated figures diff cleanly.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { ResultRecord } from '../runner/record.ts';
import { declaredFigureSpec, declaredFigures } from './declared-figures.ts';
import type { ReportFile, Reporter } from './types.ts';

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
   * Font family names written into the SVG; the first one the viewer has is used.
   * @default 'DejaVu Sans, Helvetica, Arial, sans-serif'
   */
  font?: string;
}

/** Draws the figures the experiments declare (the study's Fig. 2 and Fig. 3 among them); a figure without any data point is not written. */
export class SvgReporter implements Reporter {
  readonly name = 'svg';
  private readonly options: Required<SvgOptions>;

  constructor(options: SvgOptions = {}) {
    this.options = {
      dir: options.dir ?? 'figures',
      width: options.width ?? 480,
      height: options.height ?? 300,
      font: options.font ?? 'DejaVu Sans, Helvetica, Arial, sans-serif',
    };
  }

  async render(records: readonly ResultRecord[]): Promise<ReportFile[]> {
    const out: ReportFile[] = [];
    const dir = this.options.dir.replace(/\/+$/, '');
    const at = (file: string) => (dir === '' ? file : `${dir}/${file}`);
    for (const f of declaredFigures(records)) {
      const style = { width: this.options.width, height: this.options.height, config: this.config() };
      const rs = records.filter((r) => r.experiment.name === f.experiment);
      const spec = declaredFigureSpec(f, { ...style, subtitle: subtitle(rs) });
      if (spec) out.push({ path: at(f.file), content: await toSvg(spec) });
    }
    return out;
  }

  private config() {
    return { font: this.options.font, title: { subtitleColor: '#555' }, legend: { orient: 'right' as const } };
  }
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
