/**
 * tfjs/wasm on several threads under Node (src/backends/tfjs/wasm-threads.ts): the thread count asked
 * for is the one tfjs-backend-wasm reports and the runtime records, results equal the single-threaded
 * binary's, the pthread pool never keeps a process alive, and only tfjs-backend-wasm's own worker Blob is
 * rerouted. Each backend bring-up runs in a child process: tfjs keeps one engine per process.
 */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { installWasmThreadShim, requestedWasmThreads, WASM_MAX_THREADS } from '../../src/backends/tfjs/wasm-threads.ts';
import { availableParallelism } from 'node:os';

const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const CHILD = fileURLToPath(new URL('./wasm-threads-child.ts', import.meta.url));

interface ChildResult {
  ok: boolean;
  reason?: string;
  threads: number;
  info: { description: string; threads: number; notes: string[] };
  conv: number[];
  matMul: number[];
}

/** Runs the child with EXPBENCH_WASM_THREADS=threads; it must exit by itself within the timeout. */
function child(threads: number): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', TSX, CHILD],
      { env: { ...process.env, EXPBENCH_WASM_THREADS: String(threads) }, timeout: 60_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`child (threads ${threads}) failed: ${err.message}\n${stderr.slice(-2000)}`));
        const line = stdout.split('\n').find((l) => l.startsWith('{'));
        if (!line)
          return reject(new Error(`child (threads ${threads}) printed no result:\n${stdout}\n${stderr.slice(-2000)}`));
        resolve(JSON.parse(line) as ChildResult);
      },
    );
  });
}

describe('requestedWasmThreads', () => {
  it('defaults to every core, at most the pre-created pthread pool', () => {
    expect(requestedWasmThreads({})).toBe(Math.min(availableParallelism(), WASM_MAX_THREADS));
  });
  it('takes EXPBENCH_WASM_THREADS, capped at the pool size', () => {
    expect(requestedWasmThreads({ EXPBENCH_WASM_THREADS: '1' })).toBe(1);
    expect(requestedWasmThreads({ EXPBENCH_WASM_THREADS: '3' })).toBe(3);
    expect(requestedWasmThreads({ EXPBENCH_WASM_THREADS: '64' })).toBe(WASM_MAX_THREADS);
  });
  it('rejects what is not a whole number ≥ 1, saying what 1 means', () => {
    for (const bad of ['0', '-2', '1.5', 'two']) {
      expect(() => requestedWasmThreads({ EXPBENCH_WASM_THREADS: bad })).toThrow(
        /EXPBENCH_WASM_THREADS must be a whole number ≥ 1.*single-threaded/,
      );
    }
  });
});

describe('the worker shim', () => {
  it("routes only tfjs-backend-wasm's pthread worker Blob to a file; other Blobs keep blob: URLs", async () => {
    const { wasmWorkerContents } = createRequire(import.meta.url)(
      '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js',
    ) as { wasmWorkerContents: string };
    const path = installWasmThreadShim();
    const worker = new Blob([wasmWorkerContents.replace(/\n/g, '\\n')], { type: 'application/javascript' });
    expect(URL.createObjectURL(worker)).toBe(path);
    const other = URL.createObjectURL(new Blob(['console.log(1)'], { type: 'application/javascript' }));
    expect(other).toMatch(/^blob:/);
    URL.revokeObjectURL(other);
    const { readFileSync } = await import('node:fs');
    const script = readFileSync(path, 'utf8');
    expect(script).toContain('tfjs-backend-wasm-threaded-simd.js');
    expect(script.endsWith(wasmWorkerContents.replace(/\n/g, '\\n'))).toBe(true);
  });
});

describe('tfjs/wasm on two threads', () => {
  it('uses the threads it asked for, computes what one thread computes, and lets the process exit', async () => {
    const [two, one] = await Promise.all([child(2), child(1)]);
    expect(two.ok, two.reason).toBe(true);
    expect(one.ok, one.reason).toBe(true);
    expect(two.threads).toBe(2);
    expect(two.info.threads).toBe(2);
    expect(two.info.description).toMatch(/SIMD, 2 threads/);
    expect(one.threads).toBe(1);
    expect(one.info.description).toMatch(/single thread/);
    expect(one.info.notes.join('\n')).toMatch(/single-threaded: EXPBENCH_WASM_THREADS=1/);
    // XNNPACK splits work by output tiles, so each output sums in the same order on any thread count.
    expect(two.conv.length).toBe(8 * 16 * 16 * 48);
    expect(two.conv).toEqual(one.conv);
    expect(two.matMul).toEqual(one.matMul);
  }, 90_000);
});
