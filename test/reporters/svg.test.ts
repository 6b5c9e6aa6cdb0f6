import { Resvg, type ResvgRenderOptions } from '@resvg/resvg-js';
import { PNG } from 'pngjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { SvgReporter } from '../../src/reporters/svg.ts';
import type { ReportFile } from '../../src/reporters/types.ts';
import { FIG3, GiB, makeRecord, paperRecords, rss } from './fixtures.ts';

// resvg draws text with system fonts; the figures name DejaVu Sans first (Debian: fonts-dejavu-core).
const RESVG: ResvgRenderOptions = {
  background: 'white',
  font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
};

interface Raster {
  width: number;
  height: number;
  /** Fraction of pixels that are not (near) white. */
  ink: number;
}

function rasterise(svg: string): Raster {
  const png = PNG.sync.read(new Resvg(svg, RESVG).render().asPng());
  let inked = 0;
  for (let i = 0; i < png.data.length; i += 4) {
    const [r, g, b] = [png.data[i] as number, png.data[i + 1] as number, png.data[i + 2] as number];
    if (r < 240 || g < 240 || b < 240) inked++;
  }
  return { width: png.width, height: png.height, ink: inked / (png.width * png.height) };
}

/** The text content of every `<text>` element. */
function texts(svg: string): string[] {
  return [...svg.matchAll(/<text\b[^>]*>([^<]*)<\/text>/g)].map((m) =>
    (m[1] as string)
      .replace(/&amp;/g, '&')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&#177;|&plusmn;/g, '±'),
  );
}

let files: ReportFile[];
beforeAll(async () => {
  files = await new SvgReporter().render(paperRecords());
});

function file(path: string): string {
  const f = files.find((x) => x.path === path);
  if (!f) throw new Error(`no ${path} among ${files.map((x) => x.path).join(', ')}`);
  return f.content;
}

describe('SvgReporter', () => {
  it('writes the declared Fig. 2 and Fig. 3 under figures/', () => {
    expect(files.map((f) => f.path)).toEqual([
      'figures/paper-fig2-time.train-by-model.arch.svg',
      'figures/paper-fig3-memory.train-by-model.arch.svg',
    ]);
    for (const f of files) expect(f.content.startsWith('<svg')).toBe(true);
  });

  it('labels Fig. 2 with axis titles, every architecture, the backends and the machine', () => {
    const t = texts(file('figures/paper-fig2-time.train-by-model.arch.svg'));
    expect(t).toEqual(
      expect.arrayContaining([
        'Fig. 2: training time against depth',
        'profile full · AMD EPYC 7B13 (2 cores, no GPU)',
        'model.arch',
        'time.train (s, median ± MAD)',
        'vgg11',
        'vgg13',
        'vgg16',
        'vgg19',
        'backend',
        'tfjs/cpu',
        'onnxruntime/cpu',
      ]),
    );
  });

  it('labels Fig. 3 with axis titles and vgg7 to vgg19', () => {
    const t = texts(file('figures/paper-fig3-memory.train-by-model.arch.svg'));
    expect(t).toEqual(
      expect.arrayContaining([
        'Fig. 3: memory against architecture',
        'model.arch',
        'memory.train (GiB)',
        'vgg7',
        'vgg11',
        'vgg13',
        'vgg16',
        'vgg19',
        'tfjs/cpu',
        'onnxruntime/cpu',
      ]),
    );
    // Architectures in depth order along the axis, not in string order (vgg11 < vgg7).
    const order = ['vgg7', 'vgg11', 'vgg13', 'vgg16', 'vgg19'].map((a) => t.indexOf(a));
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  it('rasterises to a non-empty image with the text drawn', () => {
    for (const f of files) {
      const full = rasterise(f.content);
      expect(full.width).toBeGreaterThan(400);
      expect(full.height).toBeGreaterThan(250);
      // Lines, bars, grid and text cover a visible part of the canvas, but it is not a filled block.
      expect(full.ink).toBeGreaterThan(0.02);
      expect(full.ink).toBeLessThan(0.6);
      // Text really is drawn (a font was found): removing the text elements removes ink.
      const bare = rasterise(f.content.replace(/<text\b[^>]*>[^<]*<\/text>/g, ''));
      expect(full.ink - bare.ink).toBeGreaterThan(0.005);
    }
  });

  it('renders the same bytes for the same records', async () => {
    const again = await new SvgReporter().render([...paperRecords()].reverse());
    expect(again).toEqual(files);
  });

  it('writes no figure without data for it', async () => {
    expect(
      await new SvgReporter().render([makeRecord({ artefact: 'table2', backend: 'tfjs/cpu', train: [1] })]),
    ).toEqual([]);
    const fig3 = (memory: Parameters<typeof makeRecord>[0]['memory']) => [
      makeRecord({
        experiment: 'fig3',
        artefact: 'fig3',
        arch: 'vgg11',
        point: { 'model.arch': 'vgg11' },
        figures: [FIG3],
        backend: 'tfjs/cpu',
        train: [1],
        memory,
      }),
    ];
    expect(await new SvgReporter().render(fig3({}))).toEqual([]);
    const [drawn] = await new SvgReporter({ dir: 'out/figs' }).render(fig3({ train: [rss(2 * GiB)] }));
    expect(drawn?.path).toBe('out/figs/fig3-memory.train-by-model.arch.svg');
  });
});
