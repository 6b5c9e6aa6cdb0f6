/**
 * Loads the real CIFAR-10 JPEG image folder (`cifar10-jpg.tar.gz`, streamed, 50,000 train +
 * 5,000 test images) through `loadDataset` and prints load time, images/s and the train-set channel
 * statistics, which must match the dataset README's to 3 decimals.
 *
 *   npx tsx bench/data-load.ts [path-to-archive-or-folder] [--repeats N] [--train N] [--test N]
 *
 * Without a path it uses `cifar10-jpg.tar.gz` from `$EXPBENCH_DATA` or the datasets folder beside
 * the checkout (`../shared/datasets`). Exit status 1 when the statistics do not match.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDataset } from '../src/data/index.ts';

/** Train-set channel statistics published with the dataset (0–1 scale). */
const README = { mean: [0.4913, 0.4821, 0.4465], std: [0.2452, 0.2428, 0.2606] };

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function defaultPath(): string | null {
  const repo = fileURLToPath(new URL('..', import.meta.url));
  const candidates = [process.env.EXPBENCH_DATA, join(repo, '..', 'shared', 'datasets')]
    .filter((d): d is string => !!d)
    .map((d) => join(d, 'cifar10-jpg.tar.gz'));
  return candidates.find((p) => existsSync(p)) ?? null;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<number> {
  const positional = process.argv
    .slice(2)
    .filter((a, i, all) => !a.startsWith('--') && !(all[i - 1] ?? '').startsWith('--'));
  const path = positional[0] ? resolve(positional[0]) : defaultPath();
  if (!path) {
    console.error('data-load: no cifar10-jpg.tar.gz found; pass its path (or set EXPBENCH_DATA to its folder)');
    return 2;
  }
  const repeats = Number(arg('--repeats') ?? 1);
  const train = Number(arg('--train') ?? 50_000);
  const test = Number(arg('--test') ?? 5_000);
  const wall: number[] = [];
  const cpu: number[] = [];
  let ds: Awaited<ReturnType<typeof loadDataset>> | null = null;
  for (let r = 0; r < repeats; r++) {
    ds = null;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    ds = await loadDataset(
      { kind: 'image-folder', path, train, test, sizeMismatch: 'reject' },
      { baseDir: process.cwd() },
    );
    const t = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    wall.push(t);
    cpu.push((c.user + c.system) / 1e6);
    console.log(
      `run ${r + 1}: ${t.toFixed(2)} s wall, ${cpu.at(-1)!.toFixed(2)} s CPU, ${((ds.train.n + ds.test.n) / t).toFixed(0)} images/s`,
    );
  }
  const d = ds!;
  const n = d.train.n + d.test.n;
  const w = median(wall);
  console.log(`source: ${d.source}`);
  console.log(
    `loaded: ${d.train.n} train + ${d.test.n} test, ${d.width}×${d.height}×${d.channels}, ${d.numClasses} classes (${d.classNames.join(' ')}), ${(d.bytes / 1e6).toFixed(1)} MB in memory`,
  );
  console.log(
    `load time: median ${w.toFixed(2)} s wall (min ${Math.min(...wall).toFixed(2)}, max ${Math.max(...wall).toFixed(2)}, ${repeats} run${repeats > 1 ? 's' : ''}), ` +
      `median ${median(cpu).toFixed(2)} s CPU; ${(n / w).toFixed(0)} images/s wall, ${(n / median(cpu)).toFixed(0)} images/s per CPU-second`,
  );
  console.log(`peak RSS so far: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
  const counts = new Array(d.numClasses).fill(0);
  for (const l of d.train.labels) counts[l]++;
  console.log(`train per class: ${counts.join(' ')}`);
  const fmt = (xs: number[]) => xs.map((x) => x.toFixed(4)).join(', ');
  console.log(`mean: ${fmt(d.normalization.mean)}   (README ${fmt(README.mean)})`);
  console.log(`std:  ${fmt(d.normalization.std)}   (README ${fmt(README.std)})`);
  if (train !== 50_000) {
    console.log('(statistics compared only for the full 50,000-image train set)');
    return 0;
  }
  // "Match to 3 decimals": within half a unit of the third decimal of the README's figure.
  const bad: string[] = [];
  for (const k of ['mean', 'std'] as const)
    README[k].forEach((ref, c) => {
      const got = d.normalization[k][c]!;
      if (Math.abs(got - ref) > 0.0005) bad.push(`${k}[${c}] ${got.toFixed(4)} vs ${ref}`);
    });
  console.log(bad.length ? `MISMATCH: ${bad.join('; ')}` : 'statistics match the README to 3 decimals');
  return bad.length ? 1 : 0;
}

process.exitCode = await main();
