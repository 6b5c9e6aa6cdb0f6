/**
 * Whether tfjs-backend-wasm can run multi-threaded under Node, and what a 3×3 conv costs either way.
 *
 *   npx tsx bench/wasm-threads.ts
 *
 * Each attempt runs in its own child process (tfjs keeps one engine per process, and a failed wasm
 * initialisation cannot be retried in the same one):
 *
 * - `default`: `setThreadsCount(2)`, then `tf.setBackend('wasm')` as shipped.
 * - `forced`: the same after `tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true)`, which is what selects
 *   the threaded SIMD binary (`tfjs-backend-wasm-threaded-simd.wasm`).
 * - `forced+paths`: as `forced`, with `setWasmPaths()` pointing at the package's `dist/` folder.
 *
 * - `expbench 1` / `expbench N`: expbench's runtime (`activateRuntime('wasm')`, which installs the thread
 *   shim of `src/backends/tfjs/wasm-threads.ts`) with `EXPBENCH_WASM_THREADS` = 1 and = every core.
 *
 * For each it prints whether the backend came up, `getThreadsCount()`, and the median time of a
 * 32×32×32×64 → 64 3×3 convolution.
 */
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineLines } from './common.ts';

const mode = process.argv[2];

if (mode === undefined) {
  const cores = availableParallelism();
  console.log(machineLines());
  for (const m of ['default', 'forced', 'forced+paths', 'expbench 1', `expbench ${cores}`]) {
    const [mode, threads] = m.split(' ');
    const env = threads ? { ...process.env, EXPBENCH_WASM_THREADS: threads } : process.env;
    const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), mode!], {
      encoding: 'utf8',
      timeout: 120_000,
      env,
    });
    const lines = `${r.stdout}`.split('\n').filter((l) => l.startsWith('RESULT '));
    console.log(
      `${m.padEnd(13)} ${
        lines.length > 0
          ? lines.map((l) => l.slice(7)).join(' ')
          : `no result (exit ${r.status}): ${
              r.stderr
                .split('\n')
                .find((l) => /Error|error/.test(l))
                ?.slice(0, 300) ?? ''
            }`
      }`,
    );
  }
} else {
  const tf = await import('@tensorflow/tfjs-core');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (mode === 'expbench') {
    const { activateRuntime } = await import('../src/backends/tfjs/runtime.ts');
    const r = await activateRuntime('wasm');
    if (!r.ok) {
      console.log(`RESULT backend failed: ${r.reason}`);
      process.exit(0);
    }
    await timeConv(tf, wasm);
  }
  if (mode !== 'default') tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  if (mode === 'forced+paths') {
    const require = createRequire(import.meta.url);
    wasm.setWasmPaths(`${join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist')}/`);
  }
  wasm.setThreadsCount(2);
  // tfjs reports an initialisation failure through console.warn; keep its first line as the reason.
  const warnings: string[] = [];
  console.warn = (...a: unknown[]) =>
    void warnings.push(a.map((x) => String(x instanceof Error ? x.message : x).split('\n')[0]).join(' '));
  let ok = false;
  try {
    ok = await tf.setBackend('wasm');
  } catch (e) {
    warnings.push(String((e as Error).message).split('\n')[0]!);
  }
  if (!ok || tf.getBackend() !== 'wasm') {
    console.log(
      `RESULT backend failed: ${warnings.filter((w) => !w.startsWith('Initialization of backend')).join('; ') || warnings.join('; ')}`,
    );
    process.exit(0);
  }
  await timeConv(tf, wasm);
}

async function timeConv(
  tf: typeof import('@tensorflow/tfjs-core'),
  wasm: typeof import('@tensorflow/tfjs-backend-wasm'),
): Promise<never> {
  const x = tf.randomNormal([32, 32, 32, 64]) as import('@tensorflow/tfjs-core').Tensor4D;
  const w = tf.randomNormal([3, 3, 64, 64]) as import('@tensorflow/tfjs-core').Tensor4D;
  const times: number[] = [];
  for (let i = 0; i < 11; i++) {
    const t0 = performance.now();
    const y = tf.conv2d(x, w, 1, 'same');
    await y.data();
    y.dispose();
    if (i > 0) times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  console.log(
    `RESULT backend wasm, ${simd ? 'SIMD' : 'no SIMD'}, getThreadsCount() = ${wasm.getThreadsCount()}, conv 32×32×32×64→64 3×3 median ${times[times.length >> 1]!.toFixed(0)} ms`,
  );
  process.exit(0);
}
