/**
 * Multi-threaded tfjs-backend-wasm under Node, without changing the package.
 *
 * tfjs-backend-wasm ships a threaded SIMD binary (Emscripten pthreads; XNNPACK's pthreadpool spreads
 * each convolution and matrix product over its threads), but under Node it never uses it, for three
 * reasons, each handled here:
 *
 * 1. Its `WASM_HAS_MULTITHREAD_SUPPORT` flag answers false whenever `IS_NODE` (tfjs issue #3830). We set
 *    the flag to true when this Node has what the binary needs: `SharedArrayBuffer`, shared
 *    `WebAssembly.Memory` and `worker_threads`.
 * 2. It hands Emscripten its pthread worker script as a `blob:` URL (`URL.createObjectURL(new
 *    Blob([...]))`), which Node's `worker_threads` refuse (`ERR_WORKER_PATH`), and the worker then loads
 *    the main script from another Blob. We write the package's own worker script
 *    (`wasm-out/tfjs-backend-wasm-threaded-simd.worker.js`) to a file once, preceded by one line that
 *    points the worker's `URL.createObjectURL` at the package's own main script
 *    (`wasm-out/tfjs-backend-wasm-threaded-simd.js`) on disk, and answer the main thread's
 *    `URL.createObjectURL` for exactly that worker Blob (same type, same byte length) with the file's
 *    path. Any other Blob gets Node's own object URL.
 * 3. Its C++ side caps the pool at `emscripten_num_logical_cores() / 2` (it assumes two hardware
 *    threads per core), which Node answers with `os.cpus().length`: on a 2-core machine without SMT
 *    that is one thread whatever `setThreadsCount` asked for. While the backend initialises, `os.cpus()`
 *    answers with at least twice the requested count, so the cap is the request; it is restored as
 *    soon as `setBackend` returns.
 *
 * Afterwards the idle pre-created workers are terminated and the running ones `unref`ed
 * ({@link settleWasmPool}).
 * What is used is reported: `getThreadsCount()` after initialisation, never the request.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);

/** The most threads the threaded binary's pre-created pthread pool holds (`PTHREAD_POOL_SIZE`). */
export const WASM_MAX_THREADS = 8;

/** Threads to request: `EXPBENCH_WASM_THREADS` when set (1 keeps the single-threaded binary), else every core. */
export function requestedWasmThreads(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.EXPBENCH_WASM_THREADS;
  if (raw !== undefined && raw !== '') {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) {
      throw new Error(
        `EXPBENCH_WASM_THREADS must be a whole number ≥ 1, got ${JSON.stringify(raw)} (1 runs the single-threaded wasm binary)`,
      );
    }
    return Math.min(n, WASM_MAX_THREADS);
  }
  return Math.min(os.availableParallelism(), WASM_MAX_THREADS);
}

/** Why this Node cannot run the threaded binary, or undefined when it can. */
export function threadSupportProblem(): string | undefined {
  if (typeof SharedArrayBuffer !== 'function') return 'SharedArrayBuffer is not available in this Node';
  try {
    const Wasm = (globalThis as unknown as { WebAssembly: { Memory: new (d: object) => { buffer: ArrayBufferLike } } })
      .WebAssembly;
    const m = new Wasm.Memory({ initial: 1, maximum: 1, shared: true });
    if (!(m.buffer instanceof SharedArrayBuffer))
      return 'shared WebAssembly.Memory is not backed by a SharedArrayBuffer';
  } catch (e) {
    return `shared WebAssembly.Memory is not supported: ${(e as Error).message}`;
  }
  try {
    require('node:worker_threads');
  } catch {
    return 'node:worker_threads is not available';
  }
  return undefined;
}

let installed: string | undefined;

/** Folder for the worker script: a per-user cache folder that survives between runs, written atomically. */
function shimDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(os.homedir() || os.tmpdir(), '.cache');
  return join(base, 'expbench', 'tfjs-wasm-threads');
}

/**
 * Writes the worker script and routes the threaded backend's worker Blob to it. Idempotent. Returns
 * the worker script's path. Must run before `tf.setBackend('wasm')`.
 */
export function installWasmThreadShim(dir = shimDir()): string {
  if (installed) return installed;
  const pkg = '@tensorflow/tfjs-backend-wasm/wasm-out/';
  const mainScript = require.resolve(`${pkg}tfjs-backend-wasm-threaded-simd.js`);
  const { wasmWorkerContents } = require(`${pkg}tfjs-backend-wasm-threaded-simd.worker.js`) as {
    wasmWorkerContents: string;
  };
  if (typeof wasmWorkerContents !== 'string' || !wasmWorkerContents.includes('worker_threads')) {
    throw new Error(
      `${pkg}tfjs-backend-wasm-threaded-simd.worker.js does not export the Node-capable pthread worker script this shim expects`,
    );
  }
  // The exact text tfjs-backend-wasm puts in its Blob (it escapes newlines), so the size identifies it.
  const blobText = wasmWorkerContents.replace(/\n/g, '\\n');
  const blobBytes = Buffer.byteLength(blobText);
  const script =
    `// Written by expbench (src/backends/tfjs/wasm-threads.ts): tfjs-backend-wasm's pthread worker, loading\n` +
    `// the package's main script from disk instead of from a Blob.\n` +
    `URL.createObjectURL = () => ${JSON.stringify(mainScript)}; URL.revokeObjectURL = () => {};\n` +
    blobText;
  try {
    mkdirSync(dir, { recursive: true });
  } catch {
    // A read-only home (some CI sandboxes): the temporary folder will do.
    dir = join(os.tmpdir(), 'expbench-tfjs-wasm-threads');
    mkdirSync(dir, { recursive: true });
  }
  const version = (require('@tensorflow/tfjs-backend-wasm/package.json') as { version: string }).version;
  const workerPath = join(dir, `tfjs-backend-wasm-${version}-threaded-simd.worker.cjs`);
  let current: string | undefined;
  try {
    current = readFileSync(workerPath, 'utf8');
  } catch {
    current = undefined;
  }
  if (current !== script) {
    const tmp = `${workerPath}.${process.pid}.tmp`;
    writeFileSync(tmp, script);
    renameSync(tmp, workerPath);
  }
  // Stays installed: Emscripten asks for a worker again whenever its pool runs short.
  const native = URL.createObjectURL;
  URL.createObjectURL = function createObjectURL(obj: Blob) {
    if (obj instanceof Blob && obj.type === 'application/javascript' && obj.size === blobBytes) return workerPath;
    return native.call(URL, obj);
  };
  installed = workerPath;
  return workerPath;
}

/**
 * Runs `init` (the backend's `setBackend`) with `os.cpus()` answering at least `2 × threads` entries, so
 * tfjs-backend-wasm's SMT-assuming cap (logical cores / 2) lets the requested count through.
 */
export async function withCoreCountFor<T>(threads: number, init: () => Promise<T>): Promise<T> {
  const real = os.cpus;
  const list = real();
  if (list.length >= 2 * threads) return init();
  os.cpus = () => Array.from({ length: 2 * threads }, (_, i) => list[i % Math.max(1, list.length)]!);
  try {
    return await init();
  } finally {
    os.cpus = real;
  }
}

interface PoolWorker {
  unref?: () => void;
  terminate?: () => unknown;
}

/**
 * After initialisation: the binary pre-creates 8 pthread workers (`PTHREAD_POOL_SIZE`, a constant in
 * its JavaScript), each a Node isolate holding the module (~17 MB RSS apiece), while XNNPACK's pool uses
 * `threads - 1` of them. The idle ones are terminated (Emscripten creates a worker again if a pthread
 * ever needs one) and the running ones `unref`ed, so they never keep the process alive on their own.
 * Returns how many idle workers were terminated.
 */
export function settleWasmPool(module: unknown): number {
  const p = (module as { PThread?: { unusedWorkers?: PoolWorker[]; runningWorkers?: PoolWorker[] } }).PThread;
  const idle = p?.unusedWorkers ?? [];
  const n = idle.length;
  for (const w of idle) void w.terminate?.();
  idle.length = 0;
  for (const w of p?.runningWorkers ?? []) w.unref?.();
  return n;
}
