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
import { gaussian, mixSeed, mulberry32, SeedStream, type Rng } from './prng.ts';
import type { Split } from './types.ts';

export interface SyntheticSpec {
  train: number;
  test: number;
  imageSize: number;
  channels: number;
  classes: number;
  seed: number;
  noise: number;
}

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

function generateSplit(spec: SyntheticSpec, protos: Prototype[], n: number, stream: number): Split {
  const S = spec.imageSize;
  const C = spec.channels;
  const per = S * S * C;
  const rng = mulberry32(mixSeed(spec.seed, stream));
  const normal = gaussian(rng);
  const labels = balancedLabels(n, spec.classes, rng);
  const images = new Uint8Array(n * per);
  const maxShift = Math.max(1, Math.floor(S / 8));
  const pattern = new Float64Array(per);
  for (let i = 0; i < n; i++) {
    const p = protos[labels[i]!]!;
    const dx = Math.floor(rng() * (2 * maxShift + 1)) - maxShift;
    const dy = Math.floor(rng() * (2 * maxShift + 1)) - maxShift;
    const contrast = 0.6 + 0.8 * rng();
    const brightness = 50 * rng() - 25;
    const cos = Math.cos(p.theta);
    const sin = Math.sin(p.theta);
    const r2 = 2 * (p.radius * S) ** 2;
    for (let y = 0; y < S; y++) {
      const yy = y - dy;
      for (let x = 0; x < S; x++) {
        const xx = x - dx;
        const g = Math.cos((2 * Math.PI * p.freq * (xx * cos + yy * sin)) / S + p.phase);
        const b = Math.exp(-((xx - p.bx * S) ** 2 + (yy - p.by * S) ** 2) / r2);
        const o = (y * S + x) * C;
        for (let c = 0; c < C; c++) pattern[o + c] = g * p.gratingColour[c]! + b * p.blobColour[c]!;
      }
    }
    const base = i * per;
    for (let j = 0; j < per; j++) {
      const v = 128 + brightness + contrast * pattern[j]! + spec.noise * normal();
      images[base + j] = v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
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
    if (!Number.isInteger(v) || v < lo || v > hi) bad(field, `must be an integer in [${lo}, ${hi}], got ${v}`, `set ${field} to a value in that range`);
  };
  intIn('train', 0, 10_000_000);
  intIn('test', 0, 10_000_000);
  intIn('imageSize', 1, 4096);
  intIn('channels', 1, 4);
  // Labels are stored as uint8.
  intIn('classes', 2, 256);
  if (!Number.isFinite(spec.noise) || spec.noise < 0) bad('noise', `must be a finite number ≥ 0, got ${spec.noise}`, 'noise is a standard deviation on the 0–255 scale, e.g. 20');
  if (!Number.isFinite(spec.seed)) bad('seed', `must be a finite number, got ${spec.seed}`, 'use an integer seed, e.g. 1');
  const bytes = (spec.train + spec.test) * spec.imageSize * spec.imageSize * spec.channels;
  if (bytes > 2 ** 32) bad('size', `would need ${(bytes / 2 ** 30).toFixed(1)} GiB`, 'use fewer examples or smaller images');
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
