/**
 * What does measuring memory cost the timings it sits beside?
 *
 *   npx tsx bench/overhead-sampler.ts [--pairs 30]
 *
 * 1. The price of one sample (read /proc/self/status + process.memoryUsage()), by tinybench.
 * 2. A fixed CPU workload (a 256×256 float matrix product, ~50–100 ms here) timed with and without a
 *    running sampler (50 ms interval, device queries off as on a machine without nvidia-smi), in
 *    alternating pairs so slow drifts of the machine hit both sides alike; reports the median of the
 *    paired ratios and the Mann–Whitney p of the two groups.
 */
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { Bench } from 'tinybench';
import { startMemorySampler } from '../src/runner/memory.ts';
import { formatSeconds } from '../src/stats/format.ts';
import { mannWhitneyU } from '../src/stats/mann-whitney.ts';
import { median, quantile, sortSamples } from '../src/stats/summary.ts';

const { values: args } = parseArgs({ options: { pairs: { type: 'string', default: '30' } } });

const N = 256;
const a = Float32Array.from({ length: N * N }, (_, i) => ((i * 7919) % 1000) / 1000);
const b = Float32Array.from({ length: N * N }, (_, i) => ((i * 104729) % 1000) / 1000);
const c = new Float32Array(N * N);
function workload(): number {
  for (let i = 0; i < N; i++) {
    for (let k = 0; k < N; k++) {
      const aik = a[i * N + k]!;
      for (let j = 0; j < N; j++) c[i * N + j] = c[i * N + j]! + aik * b[k * N + j]!;
    }
  }
  return c[0]!;
}

// 1. One sample.
const sampler = startMemorySampler({ device: false, intervalMs: 60_000 });
const bench = new Bench({ time: 1000, warmupTime: 200 });
bench.add('one memory sample (/proc/self/status + process.memoryUsage())', () => sampler.sample());
await bench.run();
await sampler.stop();
const one = bench.tasks[0]!.result;
if (one.state !== 'completed') throw new Error(`sample benchmark ${one.state}`);

// 2. Paired timings of the workload with and without a sampler running.
const timeIt = async (withSampler: boolean): Promise<number> => {
  const s = withSampler ? startMemorySampler({ device: false, intervalMs: 50 }) : undefined;
  const t0 = performance.now();
  // The workload yields between chunks, as a backend's async steps do, so the timer can fire.
  for (let r = 0; r < 4; r++) {
    workload();
    await new Promise((res) => setImmediate(res));
  }
  const dt = (performance.now() - t0) / 1e3;
  await s?.stop();
  return dt;
};
await timeIt(false);
await timeIt(true);
const pairs = Number(args.pairs);
const off: number[] = [];
const on: number[] = [];
const ratios: number[] = [];
for (let p = 0; p < pairs; p++) {
  // Alternate which side goes first.
  const first = p % 2 === 0;
  const x = await timeIt(first);
  const y = await timeIt(!first);
  const withS = first ? x : y;
  const without = first ? y : x;
  on.push(withS);
  off.push(without);
  ratios.push(withS / without);
}
const r = sortSamples(ratios);
const mw = mannWhitneyU(on, off);
console.log(`node ${process.version}; load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores\n`);
console.log(
  `one sample: median ${formatSeconds(one.latency.p50 / 1e3)} (p75 ${formatSeconds(one.latency.p75 / 1e3)}, ${one.latency.samplesCount} iterations)`,
);
console.log(
  `workload without sampler: median ${formatSeconds(median(sortSamples(off)))}; with sampler (50 ms): median ${formatSeconds(median(sortSamples(on)))}`,
);
console.log(
  `paired ratio with/without over ${pairs} pairs: median ${median(r).toFixed(4)} (IQR ${quantile(r, 0.25).toFixed(4)}–${quantile(r, 0.75).toFixed(4)}); ` +
    `Mann–Whitney two-sided p = ${mw.pTwoSided.toFixed(3)}`,
);
