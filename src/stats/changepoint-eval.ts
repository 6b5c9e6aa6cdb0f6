/**
 * How well a change-point detector does on series with known steps: synthetic histories (a level
 * with planted steps and normal noise) and the score of a detection against them. Used by the test
 * and the benchmark of {@link detectChangePoints}; randomness comes in as functions, so this stays
 * pure and the callers choose the seeded generator.
 */
import { detectChangePoints } from './changepoints.ts';

export interface PlantedHistoryOptions {
  /** Points in the series. @default 200 */
  length?: number;
  /** Steps planted. @default 3 */
  steps?: number;
  /** Noise standard deviation relative to the level (2 % is a quiet benchmark machine). @default 0.02 */
  noise?: number;
  /** Size of each step relative to the level before it, drawn in ±[min, max]. @default [0.08, 0.2] */
  stepSize?: [number, number];
  /** Fewest points between two steps and between a step and either end. @default 15 */
  gap?: number;
}

export interface PlantedHistory {
  values: number[];
  /** Index of the first point of each new level, ascending. */
  steps: number[];
}

/**
 * A series of timings around 1 with `steps` level changes at random positions, each by a random
 * relative size (up or down), plus normal noise proportional to the level.
 */
export function plantedHistory(
  uniform: () => number,
  normal: () => number,
  opts: PlantedHistoryOptions = {},
): PlantedHistory {
  const n = opts.length ?? 200;
  const k = opts.steps ?? 3;
  const noise = opts.noise ?? 0.02;
  const [lo, hi] = opts.stepSize ?? [0.08, 0.2];
  const gap = opts.gap ?? 15;
  if (n < (k + 1) * gap) throw new RangeError(`${k} steps ${gap} apart do not fit in ${n} points`);
  // Positions: k sorted draws from the room left once every gap is reserved, then spread by the gaps.
  const room = n - (k + 1) * gap;
  const draws = Array.from({ length: k }, () => Math.floor(uniform() * (room + 1))).sort((a, b) => a - b);
  const steps = draws.map((d, i) => d + (i + 1) * gap);
  const values: number[] = [];
  let level = 1;
  let next = 0;
  for (let i = 0; i < n; i++) {
    if (next < k && i === steps[next]) {
      const size = lo + (hi - lo) * uniform();
      level *= uniform() < 0.5 ? 1 - size : 1 + size;
      next++;
    }
    values.push(level * (1 + noise * normal()));
  }
  return { values, steps };
}

export interface DetectionScore {
  /** Planted steps with a detected change within the tolerance. */
  found: number;
  planted: number;
  /** Detected changes matching no planted step. */
  falseChanges: number;
}

/**
 * Scores detected change indices against planted ones: each planted step is found when some change
 * lies within ±`tolerance` of it (each detected change matches at most one step); the changes left
 * over are false.
 */
export function scoreDetection(planted: readonly number[], detected: readonly number[], tolerance = 2): DetectionScore {
  const used = new Set<number>();
  let found = 0;
  for (const p of planted) {
    let best = -1;
    for (let j = 0; j < detected.length; j++) {
      if (used.has(j) || Math.abs(detected[j]! - p) > tolerance) continue;
      if (best === -1 || Math.abs(detected[j]! - p) < Math.abs(detected[best]! - p)) best = j;
    }
    if (best !== -1) {
      used.add(best);
      found++;
    }
  }
  return { found, planted: planted.length, falseChanges: detected.length - used.size };
}

export interface DetectorEvaluation {
  histories: number;
  /** Share of planted steps found within the tolerance. */
  detectionRate: number;
  /** Share of histories where every planted step was found. */
  allFoundRate: number;
  /** Mean false changes per history. */
  meanFalseChanges: number;
  /** Share of histories with at most one false change. */
  atMostOneFalseRate: number;
  /** Share of histories with every step found and at most one false change. */
  successRate: number;
}

/** Runs the detector (on the log of the values: steps are relative) over `histories` synthetic histories. */
export function evaluateDetector(
  uniform: () => number,
  normal: () => number,
  histories: number,
  opts: PlantedHistoryOptions & { tolerance?: number } = {},
): DetectorEvaluation {
  let found = 0;
  let planted = 0;
  let allFound = 0;
  let falses = 0;
  let atMostOne = 0;
  let success = 0;
  for (let h = 0; h < histories; h++) {
    const { values, steps } = plantedHistory(uniform, normal, opts);
    const { changes } = detectChangePoints(values.map(Math.log));
    const s = scoreDetection(steps, changes, opts.tolerance ?? 2);
    found += s.found;
    planted += s.planted;
    falses += s.falseChanges;
    if (s.found === s.planted) allFound++;
    if (s.falseChanges <= 1) atMostOne++;
    if (s.found === s.planted && s.falseChanges <= 1) success++;
  }
  return {
    histories,
    detectionRate: found / planted,
    allFoundRate: allFound / histories,
    meanFalseChanges: falses / histories,
    atMostOneFalseRate: atMostOne / histories,
    successRate: success / histories,
  };
}
