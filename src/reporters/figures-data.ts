/**
 * The data behind the study's Fig. 2 (training time against depth) and Fig. 3 (memory against
 * architecture), shared by the SVG reporter that draws them and the markdown reporter that tables
 * them, so the two never disagree about which records a figure shows.
 */
import type { ResultRecord } from '../runner/record.ts';
import { memoryFigure, orderArchs, orderBackends, phaseSummary, recordsOf } from './view.ts';

/** File names of the figures, relative to the figures folder. */
export const FIGURE_FILES = { fig2: 'fig2-train-time.svg', fig3: 'fig3-memory.svg' } as const;

/** Records Fig. 2 draws: those of the `fig2` artefact. */
export function fig2Records(records: readonly ResultRecord[]): ResultRecord[] {
  return recordsOf(records, 'fig2');
}

/** Records Fig. 3 draws: those of the `fig3` artefact, or the `fig2` runs' memory when there are none. */
export function fig3Records(records: readonly ResultRecord[]): { records: ResultRecord[]; fromFig2: boolean } {
  const own = recordsOf(records, 'fig3');
  return own.length > 0 || fig2Records(records).length === 0
    ? { records: own, fromFig2: false }
    : { records: fig2Records(records), fromFig2: true };
}

export interface Fig2Point {
  arch: string;
  backend: string;
  /** Median training time, seconds. */
  seconds: number;
  /** Median ± MAD, seconds. */
  low: number;
  high: number;
  n: number;
}

export interface Fig3Point {
  arch: string;
  backend: string;
  metric: string;
  bytes: number;
  source: string;
  reliable: boolean;
}

/** One point per record with training samples, ordered by backend then depth. */
export function fig2Points(records: readonly ResultRecord[]): Fig2Point[] {
  const pts: Fig2Point[] = [];
  for (const r of fig2Records(records)) {
    const s = phaseSummary(r, 'train');
    if (!s) continue;
    pts.push({
      arch: r.experiment.arch,
      backend: r.backend.requested,
      seconds: s.median,
      low: s.median - s.mad,
      high: s.median + s.mad,
      n: s.n,
    });
  }
  return sortPoints(pts);
}

/** One point per record with a training-phase figure of `metric`. */
export function fig3Points(records: readonly ResultRecord[], metric = 'peak-rss'): Fig3Point[] {
  const pts: Fig3Point[] = [];
  for (const r of fig3Records(records).records) {
    const f = memoryFigure(r, 'train', metric);
    if (!f) continue;
    pts.push({
      arch: r.experiment.arch,
      backend: r.backend.requested,
      metric,
      bytes: f.bytes,
      source: f.source,
      reliable: f.reliable,
    });
  }
  return sortPoints(pts);
}

function sortPoints<T extends { arch: string; backend: string }>(pts: T[]): T[] {
  const b = orderBackends(pts.map((p) => p.backend));
  const a = orderArchs(pts.map((p) => p.arch));
  return pts.sort((x, y) => b.indexOf(x.backend) - b.indexOf(y.backend) || a.indexOf(x.arch) - a.indexOf(y.arch));
}
