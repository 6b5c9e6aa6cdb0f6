/**
 * Checks ONNX files that expbench has never seen (exported by bench/onnx-import-check.py with PyTorch,
 * bench/onnx-import-check-tf.py with tf2onnx, or any other image classifier): each is imported, its class ids on fixed inputs are compared between ONNX Runtime
 * running the untouched file and expbench's sessions built from the import on every backend listed,
 * and it is trained for a few steps on each of them from the file's weights.
 *
 *   /path/to/venv/bin/python bench/onnx-import-check.py --out /tmp/onnx-check
 *   npx tsx bench/onnx-import-check.ts /tmp/onnx-check [--backends onnxruntime/cpu,tfjs/wasm] [--steps 8]
 *
 * A file with a channels-last input (tf2onnx's default for Keras) is given the same images transposed
 * to NHWC; expbench's import feeds them NCHW.
 *
 * Prints one row per file and backend: nodes, parameters, whether every class id matches ONNX Runtime
 * on the untouched file, the largest logit difference, and the loss of the first and last training
 * step. Exits non-zero when a file fails to import, a class id differs, or training gives a non-finite
 * loss. (Correctness, not speed: no timings are taken.)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadOrt } from '../src/backends/onnxruntime/runtime.ts';
import { argmaxRows } from '../src/backends/onnxruntime/session.ts';
import { getBackend } from '../src/backends/registry.ts';
import type { BackendId } from '../src/vocab/backends.ts';
import { epochOrder, loadDataset } from '../src/data/index.ts';
import { uniformStream } from '../src/models/init.ts';
import { nchwToNhwc } from '../src/models/layout.ts';
import { importOnnxFile } from '../src/models/onnx-import/index.ts';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    backends: { type: 'string', default: 'onnxruntime/cpu,tfjs/wasm' },
    steps: { type: 'string', default: '8' },
    examples: { type: 'string', default: '16' },
  },
});
const dir = positionals[0];
if (!dir) {
  console.error('usage: npx tsx bench/onnx-import-check.ts <folder of .onnx files> [--backends a,b] [--steps 8]');
  process.exit(2);
}
const backends = args.backends.split(',') as BackendId[];
const STEPS = Number(args.steps);
const N = Number(args.examples);
const BATCH = 8;

interface Entry {
  file: string;
  exporter?: string;
  opset?: number;
}
const manifestPath = join(dir, 'manifest.json');
let entries: Entry[];
try {
  entries = JSON.parse(readFileSync(manifestPath, 'utf8')) as Entry[];
} catch {
  entries = readdirSync(dir)
    .filter((f) => f.endsWith('.onnx'))
    .sort()
    .map((file) => ({ file }));
}

/** Class id of each row of `logits` (`[rows, classes]`), by the onnxruntime session's own argmax. */
function classIds(logits: ArrayLike<number>, classes: number): number[] {
  const rows = logits.length / classes;
  const out = new Int32Array(rows);
  argmaxRows(logits, rows, classes, out);
  return Array.from(out);
}

const ort = await loadOrt();
let failures = 0;
console.log(
  'file | exporter | opset | backend | nodes | params | class ids = ORT file | max |Δlogit| | loss first → last',
);
console.log('---|---|---|---|---|---|---|---|---');
for (const e of entries) {
  const path = join(dir, e.file);
  let imp: ReturnType<typeof importOnnxFile>;
  try {
    imp = importOnnxFile(path);
  } catch (err) {
    failures++;
    console.log(`${e.file} | ${e.exporter ?? ''} | ${e.opset ?? ''} | – | import failed: ${(err as Error).message}`);
    continue;
  }
  const { model, weights } = imp;
  const [C, H, W] = model.input as [number, number, number];
  const u = uniformStream(1234);
  const x = Float32Array.from({ length: N * C * H * W }, () => 2 * u() - 1);
  const file = await ort.InferenceSession.create(path);
  const fed =
    imp.declared.layout === 'NHWC'
      ? new ort.Tensor('float32', nchwToNhwc(x, [N, C, H, W]), [N, H, W, C])
      : new ort.Tensor('float32', x, [N, C, H, W]);
  const out = await file.run({ [imp.declared.inputName]: fed });
  const ref = out[file.outputNames[0]!]!.data as Float32Array;
  await file.release();
  const refIds = classIds(ref, model.numClasses);
  const data = await loadDataset(
    {
      kind: 'synthetic',
      train: BATCH * STEPS,
      test: BATCH,
      imageSize: H,
      channels: C,
      classes: model.numClasses,
      seed: 3,
      noise: 40,
    },
    { baseDir: process.cwd() },
  );
  for (const id of backends) {
    const backend = await getBackend(id);
    const avail = await backend.probe();
    if (!avail.available) {
      console.log(`${e.file} | ${e.exporter ?? ''} | ${e.opset ?? ''} | ${id} | skipped: ${avail.reason}`);
      continue;
    }
    const opts = {
      optimizer: { kind: 'sgd' as const, lr: 0.01, momentum: 0.9, weightDecay: 0 },
      trainBatchSize: BATCH,
      inferBatchSize: N,
      seed: 1,
      dataset: data,
    };
    const session = await backend.load(model, weights, opts);
    let row = `${e.file} | ${e.exporter ?? ''} | ${e.opset ?? ''} | ${id} | ${model.nodes.length} | ${model.paramCount}`;
    try {
      const y = await session.logits(x, N);
      const ids = classIds(y, model.numClasses);
      const same = ids.every((c, i) => c === refIds[i]);
      let maxAbs = 0;
      for (let i = 0; i < y.length; i++) maxAbs = Math.max(maxAbs, Math.abs(y[i]! - ref[i]!));
      if (!same) failures++;
      row += ` | ${same ? `yes (${N}/${N})` : `NO (${ids.filter((c, i) => c === refIds[i]).length}/${N})`} | ${maxAbs.toExponential(1)}`;
      const losses: number[] = [];
      await session.train({
        split: data.train,
        epochs: 1,
        batchSize: BATCH,
        lossEvery: 1,
        order: (ep) => epochOrder(1, ep, data.train.n),
        onStep: (info) => {
          if (info.loss !== undefined) losses.push(info.loss);
        },
      });
      const finite = losses.length > 0 && losses.every(Number.isFinite);
      if (!finite) failures++;
      row += ` | ${losses.length ? `${losses[0]!.toFixed(4)} → ${losses.at(-1)!.toFixed(4)} (${losses.length} steps)` : 'no loss'}`;
    } catch (err) {
      failures++;
      row += ` | failed: ${(err as Error).message.split('\n')[0]}`;
    } finally {
      await session.dispose();
    }
    console.log(row);
  }
}
console.log(failures === 0 ? '\nall files passed' : `\n${failures} failure(s)`);
process.exit(failures === 0 ? 0 : 1);
