/**
 * Seeded synthetic image classification data that a small CNN can learn in a few epochs: each class
 * is a fixed smooth pattern (an oriented colour grating plus a coloured blob at a class-specific
 * place), and each example is its class pattern randomly shifted by a few pixels, with random
 * contrast and brightness, plus Gaussian pixel noise of standard deviation `noise` (0–255 scale).
 *
 * The per-example nuisances (shift, contrast, brightness) keep the task from being trivially
 * separable by a template match, so accuracy responds to `noise`, while a convolutional model (which
 * is shift-tolerant) has a real signal to learn. Labels are balanced: class `k` appears
 * `floor(n/K)` or `floor(n/K)+1` times, in a seeded random order.
 */
import { DataError } from '../errors.ts';
import { mixSeed, mulberry32, normalTable16, SeedStream, type Rng } from './prng.ts';
import type { DatasetConfig } from './config.ts';
import type { Split } from './types.ts';

/** The `synthetic` dataset of an experiment file, as loaded (defaults filled): one definition, the schema's. */
export type SyntheticSpec = Omit<Extract<DatasetConfig, { kind: 'synthetic' }>, 'kind'>;

/** One class's fixed pattern parameters. */
interface Prototype {
  /** Grating direction (radians) and spatial frequency (cycles per image side) and phase. */
  theta: number;
  freq: number;
  phase: number;
  /** Per-channel grating amplitude (0–255 scale). */
  gratingColour: Float64Array;
  /** Blob centre as a fraction of the side, radius as a fraction of the side, per-channel amplitude. */
  bx: number;
  by: number;
  radius: number;
  blobColour: Float64Array;
}

const GRATING_AMPLITUDE = 45;
const BLOB_AMPLITUDE = 70;

function prototypes(spec: SyntheticSpec): Prototype[] {
  const rng = mulberry32(mixSeed(spec.seed, SeedStream.syntheticPrototypes));
  const K = spec.classes;
  // Evenly spaced grating directions over [0, π) with a random offset, so classes differ in
  // orientation by at least π/K, and a random shuffle of which class gets which direction.
  const offset = rng() * Math.PI;
  const slots = Array.from({ length: K }, (_, k) => k);
  for (let i = K - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [slots[i], slots[j]] = [slots[j]!, slots[i]!];
  }
  const out: Prototype[] = [];
  for (let k = 0; k < K; k++) {
    const gratingColour = new Float64Array(spec.channels);
    const blobColour = new Float64Array(spec.channels);
    for (let c = 0; c < spec.channels; c++) {
      gratingColour[c] = GRATING_AMPLITUDE * (0.4 + 0.6 * rng());
      blobColour[c] = BLOB_AMPLITUDE * (2 * rng() - 1);
    }
    out.push({
      theta: offset + (Math.PI * slots[k]!) / K,
      freq: 1.5 + 1.5 * rng(),
      phase: 2 * Math.PI * rng(),
      gratingColour,
      bx: 0.25 + 0.5 * rng(),
      by: 0.25 + 0.5 * rng(),
      radius: 0.15 + 0.1 * rng(),
      blobColour,
    });
  }
  return out;
}

/** Balanced labels `i mod K`, shuffled with `rng` so that classes are not in blocks. */
function balancedLabels(n: number, K: number, rng: Rng): Uint8Array {
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) labels[i] = i % K;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = labels[i]!;
    labels[i] = labels[j]!;
    labels[j] = t;
  }
  return labels;
}

/**
 * Each class's pattern on a grid padded by the maximum shift on every side, so that an example
 * shifted by integer `(dx, dy)` is a window of it: no transcendental functions per example.
 */
function paddedPatterns(spec: SyntheticSpec, protos: Prototype[], M: number): Float64Array[] {
  const S = spec.imageSize;
  const C = spec.channels;
  const P = S + 2 * M;
  return protos.map((p) => {
    const out = new Float64Array(P * P * C);
    const cos = Math.cos(p.theta);
    const sin = Math.sin(p.theta);
    const r2 = 2 * (p.radius * S) ** 2;
    for (let py = 0; py < P; py++) {
      const yy = py - M;
      for (let px = 0; px < P; px++) {
        const xx = px - M;
        const g = Math.cos((2 * Math.PI * p.freq * (xx * cos + yy * sin)) / S + p.phase);
        const b = Math.exp(-((xx - p.bx * S) ** 2 + (yy - p.by * S) ** 2) / r2);
        const o = (py * P + px) * C;
        for (let c = 0; c < C; c++) out[o + c] = g * p.gratingColour[c]! + b * p.blobColour[c]!;
      }
    }
    return out;
  });
}

function generateSplit(spec: SyntheticSpec, protos: Prototype[], n: number, stream: number): Split {
  const S = spec.imageSize;
  const C = spec.channels;
  const per = S * S * C;
  const rng = mulberry32(mixSeed(spec.seed, stream));
  const table = normalTable16();
  const noise = spec.noise;
  const labels = balancedLabels(n, spec.classes, rng);
  const images = new Uint8Array(n * per);
  const M = Math.max(1, Math.floor(S / 8));
  const P = S + 2 * M;
  const patterns = paddedPatterns(spec, protos, M);
  const row = S * C;
  for (let i = 0; i < n; i++) {
    const pattern = patterns[labels[i]!]!;
    const dx = Math.floor(rng() * (2 * M + 1)) - M;
    const dy = Math.floor(rng() * (2 * M + 1)) - M;
    const contrast = 0.6 + 0.8 * rng();
    const level = 128 + 50 * rng() - 25;
    // Noise: two deviates per 32-bit draw, from the quantile table (see normalTable16).
    let r = 0;
    let half = false;
    let o = i * per;
    for (let y = 0; y < S; y++) {
      // Pixel (x, y) shows the class pattern at (x - dx, y - dy).
      let q = ((y - dy + M) * P + (M - dx)) * C;
      for (let j = 0; j < row; j++, q++, o++) {
        let z: number;
        if (half) {
          z = table[r >>> 16]!;
          half = false;
        } else {
          r = (rng() * 4294967296) >>> 0;
          z = table[r & 0xffff]!;
          half = true;
        }
        const v = level + contrast * pattern[q]! + noise * z;
        images[o] = v <= 0 ? 0 : v >= 255 ? 255 : (v + 0.5) | 0;
      }
    }
  }
  return { n, images, labels };
}

/** Validates the spec; `where` names the config in messages. */
function check(spec: SyntheticSpec, where: string): void {
  const bad = (field: string, why: string, hint: string): never => {
    throw new DataError(`${where}: synthetic dataset ${field} ${why}`, { hint });
  };
  const intIn = (field: keyof SyntheticSpec, lo: number, hi: number) => {
    const v = spec[field];
    if (!Number.isInteger(v) || v < lo || v > hi)
      bad(field, `must be an integer in [${lo}, ${hi}], got ${v}`, `set ${field} to a value in that range`);
  };
  intIn('train', 0, 10_000_000);
  intIn('test', 0, 10_000_000);
  intIn('imageSize', 1, 4096);
  intIn('channels', 1, 4);
  // Labels are stored as uint8.
  intIn('classes', 2, 256);
  if (!Number.isFinite(spec.noise) || spec.noise < 0)
    bad(
      'noise',
      `must be a finite number ≥ 0, got ${spec.noise}`,
      'noise is a standard deviation on the 0–255 scale, e.g. 20',
    );
  if (!Number.isFinite(spec.seed))
    bad('seed', `must be a finite number, got ${spec.seed}`, 'use an integer seed, e.g. 1');
  const bytes = (spec.train + spec.test) * spec.imageSize * spec.imageSize * spec.channels;
  if (bytes > 2 ** 32)
    bad('size', `would need ${(bytes / 2 ** 30).toFixed(1)} GiB`, 'use fewer examples or smaller images');
}

/**
 * Generates the train and test splits. Both share the class patterns (derived from `seed`) and
 * draw their examples from independent streams, so the test set is new examples of the same task.
 */
export function generateSynthetic(spec: SyntheticSpec, where = 'dataset'): { train: Split; test: Split } {
  check(spec, where);
  const protos = prototypes(spec);
  return {
    train: generateSplit(spec, protos, spec.train, SeedStream.syntheticTrain),
    test: generateSplit(spec, protos, spec.test, SeedStream.syntheticTest),
  };
}
