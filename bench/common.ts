/**
 * What the benchmarks share: the description of the machine they ran on, and a fixed dataset of
 * random bytes (timing does not depend on the pixel values, and every backend gets the same ones)
 * with its sub-splits without copying.
 */
import { availableParallelism, cpus, loadavg, platform, release, totalmem } from 'node:os';
import { getBackend } from '../src/backends/registry.ts';
import type { Backend, BackendId } from '../src/backends/types.ts';
import type { Dataset, Split } from '../src/data/types.ts';
import { mulberry32 } from '../src/models/init.ts';

export interface BenchData {
  dataset: Dataset;
  /** The first `n` examples, as a view. */
  sub(n: number): Split;
}

/** `n` random 32-bit-seeded images of `height × width × channels` with labels in `[0, 10)`. */
export function randomImages(n: number, height = 32, width = 32, channels = 3): BenchData {
  const rnd = mulberry32(2024);
  const per = height * width * channels;
  const images = Uint8Array.from({ length: n * per }, () => rnd() & 255);
  const labels = Uint8Array.from({ length: n }, () => rnd() % 10);
  const sub = (k: number): Split => ({ n: k, images: images.subarray(0, k * per), labels: labels.subarray(0, k) });
  const all = sub(n);
  return {
    sub,
    dataset: {
      kind: 'synthetic',
      source: 'uniform random bytes (bench)',
      channels,
      height,
      width,
      numClasses: 10,
      classNames: Array.from({ length: 10 }, (_, i) => String(i)),
      train: all,
      test: all,
      normalization: { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616], source: 'given' },
      bytes: images.byteLength + labels.byteLength,
    },
  };
}

/** The machine a benchmark ran on and how loaded it was when it started, as the first lines of its output. */
export function machineLines(): string {
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  return (
    `machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores usable, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ${platform()} ${release()}, node ${process.version}\n` +
    `load average at start: ${load} (other processes share these cores)`
  );
}

/** The backend through the registry, as the runner gets it (a failed import becomes the row's reason). */
export function backendFor(id: string): Promise<Backend> {
  return getBackend(id as BackendId);
}
