/**
 * Backends for expbench's own tests of the runner: one that really learns (a nearest-centroid
 * classifier over the normalised pixels, so accuracy figures are genuine and cheap), and ones that
 * fail the way native runtimes do — segfault, abort, hang, run out of memory, produce NaN, throw —
 * so crash isolation, timeouts and numeric checks are tested against real process deaths, one that
 * is never available, and one (`fake/paced`) whose phases take a steady, known time — load, each
 * training epoch and inference run until a deadline set when they start, so the regression gate can be
 * tested on timings that stay steady on a loaded machine (the work is done well within the deadline,
 * and one timer wake-up per phase is the only jitter).
 */
import { fillBatch, identityOrder } from '../data/batch.ts';
import type { Dataset } from '../data/types.ts';
import { NumericError } from '../errors.ts';
import type { ModelGraph, Weights } from '../models/ir.ts';
import type {
  Backend,
  BackendId,
  InferRequest,
  LoadOptions,
  ModelSession,
  TrainRequest,
  TrainResult,
} from './types.ts';

export type FakeMode = 'ok' | 'paced' | 'segfault' | 'abort' | 'hang' | 'oom' | 'nan' | 'throw' | 'unavailable';

/** How long `fake/paced` takes: to load, per training epoch, per inference (milliseconds). */
export const PACE_MS = { load: 300, epoch: 1000, infer: 300 } as const;

/** Waits until `performance.now()` reaches `deadline`. */
const until = (deadline: number) => new Promise((r) => setTimeout(r, Math.max(0, deadline - performance.now())));

export function createFakeBackend(mode: FakeMode): Backend {
  const id = `fake/${mode}` as BackendId;
  return {
    id,
    framework: 'fake',
    device: mode,
    async probe() {
      // Stands in for a runtime this machine lacks, whatever the machine (a GPU backend is not missing
      // everywhere), so skip handling is tested the same way on every machine.
      if (mode === 'unavailable')
        return { available: false, reason: 'fake/unavailable: a test backend that is never available' };
      return { available: true, detail: 'test backend' };
    },
    async load(_model: ModelGraph, weights: Weights, opts: LoadOptions): Promise<ModelSession> {
      if (mode === 'throw') throw new Error('fake/throw: load failed on purpose');
      if (mode === 'paced') await until(performance.now() + PACE_MS.load);
      return new FakeSession(id, mode, weights, opts.dataset);
    },
  };
}

class FakeSession implements ModelSession {
  readonly info;
  private centroids: Float64Array;
  private readonly per: number;
  constructor(
    id: BackendId,
    private readonly mode: FakeMode,
    private readonly weights: Weights,
    private readonly data: Dataset,
  ) {
    this.info = { backend: id, device: `fake-${mode}`, versions: {} };
    this.per = data.channels * data.height * data.width;
    this.centroids = new Float64Array(data.numClasses * this.per);
  }

  async train(req: TrainRequest): Promise<TrainResult> {
    const { split, batchSize } = req;
    const steps = Math.floor(split.n / batchSize);
    const sums = new Float64Array(this.data.numClasses * this.per);
    const counts = new Float64Array(this.data.numClasses);
    const x = new Float32Array(batchSize * this.per);
    const y = new Int32Array(batchSize);
    const epochLoss: number[] = [];
    for (let epoch = 0; epoch < req.epochs; epoch++) {
      const deadline = performance.now() + PACE_MS.epoch;
      const order = req.order(epoch);
      let lossSum = 0;
      for (let step = 0; step < steps; step++) {
        if (this.mode === 'segfault' && step === 1) process.kill(process.pid, 'SIGSEGV');
        if (this.mode === 'abort' && step === 1) process.abort();
        if (this.mode === 'hang' && step === 1) await new Promise(() => setInterval(() => {}, 1000));
        if (this.mode === 'oom') {
          // Allocate and touch memory until the runner's memory watchdog (or the kernel) stops us.
          const hog: Buffer[] = [];
          for (;;) {
            hog.push(Buffer.alloc(64 * 1024 * 1024, 1));
            await new Promise((r) => setTimeout(r, 5));
          }
        }
        fillBatch(split, this.data, this.data.normalization, order, step * batchSize, batchSize, 'NCHW', x, y);
        for (let b = 0; b < batchSize; b++) {
          const c = y[b]!;
          counts[c]!++;
          const off = c * this.per;
          for (let i = 0; i < this.per; i++) sums[off + i]! += x[b * this.per + i]!;
        }
        const loss = this.mode === 'nan' && step >= 2 ? Number.NaN : 1 / (1 + step + epoch * steps);
        if (!Number.isFinite(loss))
          throw new NumericError(`loss is ${loss} at epoch ${epoch + 1}, step ${step + 1}`, step, epoch);
        lossSum += loss;
        if (req.onStep?.({ epoch, step, stepsPerEpoch: steps, loss }) === 'stop') {
          this.finish(sums, counts);
          return {
            steps: epoch * steps + step + 1,
            epochLoss: [...epochLoss, lossSum / (step + 1)],
            stoppedEarly: true,
          };
        }
      }
      epochLoss.push(lossSum / Math.max(1, steps));
      if (this.mode === 'paced') await until(deadline);
    }
    this.finish(sums, counts);
    return { steps: steps * req.epochs, epochLoss, stoppedEarly: false };
  }

  private finish(sums: Float64Array, counts: Float64Array): void {
    for (let c = 0; c < this.data.numClasses; c++) {
      const n = Math.max(1, counts[c]!);
      for (let i = 0; i < this.per; i++) this.centroids[c * this.per + i] = sums[c * this.per + i]! / n;
    }
  }

  async infer(req: InferRequest): Promise<Int32Array> {
    const deadline = performance.now() + PACE_MS.infer;
    const out = new Int32Array(req.split.n);
    const x = new Float32Array(req.batchSize * this.per);
    const ident = identityOrder(req.split.n);
    for (let start = 0; start < req.split.n; start += req.batchSize) {
      const count = Math.min(req.batchSize, req.split.n - start);
      fillBatch(req.split, this.data, this.data.normalization, ident, start, count, 'NCHW', x);
      for (let b = 0; b < count; b++) out[start + b] = this.nearest(x, b * this.per);
    }
    if (this.mode === 'paced') await until(deadline);
    return out;
  }

  private nearest(x: Float32Array, off: number): number {
    let best = 0;
    let bestD = Number.POSITIVE_INFINITY;
    for (let c = 0; c < this.data.numClasses; c++) {
      let d = 0;
      for (let i = 0; i < this.per; i++) {
        const diff = x[off + i]! - this.centroids[c * this.per + i]!;
        d += diff * diff;
      }
      if (d < bestD) {
        bestD = d;
        best = c;
      }
    }
    return best;
  }

  async logits(x: Float32Array, n: number): Promise<Float32Array> {
    // Negative squared distance to each centroid: a genuine function of the input.
    const out = new Float32Array(n * this.data.numClasses);
    for (let b = 0; b < n; b++) {
      for (let c = 0; c < this.data.numClasses; c++) {
        let d = 0;
        for (let i = 0; i < this.per; i++) d += (x[b * this.per + i]! - this.centroids[c * this.per + i]!) ** 2;
        out[b * this.data.numClasses + c] = -d;
      }
    }
    return out;
  }

  async getWeights(): Promise<Weights> {
    return this.weights;
  }

  async dispose(): Promise<void> {}
}
