/**
 * onnxruntime/webgpu end to end, where a WebGPU adapter exists (any: a software Vulkan such as Mesa's
 * lavapipe will do); skipped with the probe's reason elsewhere. The state stays on the device as
 * `gpu-buffer` tensors, so this is where ONNX Runtime for Node's device-tensor rules bite: a tensor
 * must be disposed before the session that produced it is released, and a device tensor is never read
 * with `getData()`. Training, reading the weights back, inference and disposal all run in this process,
 * twice, next to onnxruntime/cpu from the same weights and batches.
 *
 * Inference on the device gathers its batches from the test split held in device memory and reads
 * back only the class ids, once per pass, which the session's transfer count shows.
 *
 * On the device the trainer gathers its batches from the training split held in device memory
 * (`batchSource: 'gather'`): tested here over shuffled epochs, a change of split between train() calls,
 * an upload in several chunks, and against the host-fed device trainer. The gathered graph itself is
 * also checked on the CPU EP, which runs everywhere.
 */
import { describe, expect, it } from 'vitest';
import { createOrtBackend, type OrtSession } from '../../src/backends/onnxruntime/index.ts';
import { dawnAdapter, softwareAdapterReason, softwareGpuAllowed } from '../../src/backends/software-gpu.ts';
import { EXECUTION_PROVIDER, loadOrt, sessionOptions } from '../../src/backends/onnxruntime/runtime.ts';
import { buildTrainStepGraph } from '../../src/backends/onnxruntime/train-graph.ts';
import { createOrtTrainer } from '../../src/backends/onnxruntime/trainer.ts';
import type { LoadOptions, ModelSession, TrainRequest } from '../../src/backends/types.ts';
import { fillBatch, identityOrder } from '../../src/data/batch.ts';
import { crossEntropySum, topKHits } from '../../src/stats/classification.ts';
import { epochOrder } from '../../src/data/prng.ts';
import type { Dataset, Split } from '../../src/data/types.ts';
import type { Weights } from '../../src/models/ir.ts';
import { buildModelGraph } from '../../src/models/index.ts';
import { initWeights, mulberry32 } from '../../src/models/init.ts';

function split(n: number, seed: number, size: number, classes: number): Split {
  const r = mulberry32(seed);
  return {
    n,
    images: Uint8Array.from({ length: n * size * size * 3 }, () => r() & 255),
    labels: Uint8Array.from({ length: n }, () => r() % classes),
  };
}

const S = 16;
const dataset: Dataset = {
  kind: 'synthetic',
  source: 'random bytes (test)',
  channels: 3,
  height: S,
  width: S,
  numClasses: 10,
  classNames: Array.from({ length: 10 }, (_, i) => `c${i}`),
  train: split(16, 1, S, 10),
  test: split(12, 2, S, 10),
  normalization: { mean: [0.49, 0.48, 0.45], std: [0.25, 0.24, 0.26], source: 'given' },
  bytes: 0,
};
const model = buildModelGraph(
  { arch: 'vgg-small', width: 0.125, batchNorm: true, classifier: [32], dropout: 0 },
  { channels: 3, height: S, width: S },
  10,
);
const weights = initWeights(model, 5);
const opts: LoadOptions = {
  optimizer: { kind: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 5e-4 },
  trainBatchSize: 4,
  inferBatchSize: 5,
  seed: 1,
  dataset,
};

const probe = await createOrtBackend('webgpu').probe();

async function trainAndRead(device: 'cpu' | 'webgpu'): Promise<{
  weights: Awaited<ReturnType<ModelSession['getWeights']>>;
  classes: Int32Array;
  logits: Float32Array;
  losses: number[];
}> {
  const s = await createOrtBackend(device).load(model, weights, opts);
  try {
    const losses: number[] = [];
    await s.train({
      split: dataset.train,
      epochs: 1,
      batchSize: 4,
      order: () => identityOrder(16),
      lossEvery: 1,
      onStep: (i) => void (i.loss !== undefined && losses.push(i.loss)),
    });
    const w = await s.getWeights();
    const classes = await s.infer({ split: dataset.test, batchSize: 5 });
    const x = new Float32Array(2 * 3 * S * S).fill(0.25);
    return { weights: w, classes, logits: await s.logits(x, 2), losses };
  } finally {
    await s.dispose();
  }
}

describe.skipIf(!probe.available)(`onnxruntime/webgpu (${probe.available ? probe.detail : probe.reason})`, () => {
  it('trains, reads its weights back, infers and disposes like onnxruntime/cpu, twice in one process', async () => {
    const cpu = await trainAndRead('cpu');
    for (let round = 0; round < 2; round++) {
      const gpu = await trainAndRead('webgpu');
      expect(gpu.losses.length).toBe(4);
      for (let i = 0; i < 4; i++) expect(gpu.losses[i]).toBeCloseTo(cpu.losses[i]!, 3);
      for (const p of model.params) {
        const a = gpu.weights[p.name]!.data;
        const b = cpu.weights[p.name]!.data;
        let scale = 0;
        let err = 0;
        for (let i = 0; i < b.length; i++) {
          scale = Math.max(scale, Math.abs(b[i]!));
          err = Math.max(err, Math.abs(a[i]! - b[i]!));
        }
        // Relative to the parameter's scale, with an absolute floor: a conv bias ahead of batch norm gets
        // no gradient, only weight decay, and stays at ~1e-8, where float32 rounding is all there is.
        expect(err, `${p.name}: max abs difference ${err} against a scale of ${scale}`).toBeLessThan(
          1e-4 * scale + 1e-6,
        );
      }
      let worst = 0;
      for (let i = 0; i < cpu.logits.length; i++) worst = Math.max(worst, Math.abs(gpu.logits[i]! - cpu.logits[i]!));
      expect(worst).toBeLessThan(1e-3);
      expect(Array.from(gpu.classes)).toEqual(Array.from(cpu.classes));
    }
  }, 120_000);

  it('names the adapter it ran on, as Dawn reports it, and whether it is software', async () => {
    const adapter = await dawnAdapter();
    const s = await createOrtBackend('webgpu').load(model, weights, { ...opts, training: false });
    try {
      expect(adapter).toBeDefined();
      expect(s.info.adapter).toMatchObject({ name: adapter!.described, software: adapter!.software });
    } finally {
      await s.dispose();
    }
  }, 60_000);

  // The test split held on the device, batches gathered and class ids accumulated there: the session's
  // own count of host↔device transfers shows one read-back per pass, of the class ids only, and no
  // upload once the split is there; the ids are onnxruntime/cpu's, the padded last batch included.
  it('infers with the test split on the device, reading back only the class ids, once per pass', async () => {
    const B = opts.inferBatchSize;
    const test = dataset.test;
    const inferOnly = { ...opts, training: false };
    const cpu = (await createOrtBackend('cpu').load(model, weights, inferOnly)) as OrtSession;
    let expected: Int32Array;
    let logits: Float32Array;
    try {
      expected = await cpu.infer({ split: test, batchSize: B });
      const x = new Float32Array(test.n * 3 * S * S);
      fillBatch(test, dataset, dataset.normalization, identityOrder(test.n), 0, test.n, 'NCHW', x);
      logits = await cpu.logits(x, test.n);
      expect(await cpu.testFigures({ split: test, batchSize: B, topk: [1], loss: true })).toBeUndefined();
      expect(cpu.transfers()).toEqual({});
    } finally {
      await cpu.dispose();
    }
    const gpu = (await createOrtBackend('webgpu').load(model, weights, inferOnly)) as OrtSession;
    try {
      expect(gpu.info.notes?.join('\n')).not.toMatch(/CPU execution provider|fed from the host/);
      const batches = Math.ceil(test.n / B);
      expect(batches * B).toBeGreaterThan(test.n);
      const idsBytes = batches * B * 4;

      const first = await gpu.infer({ split: test, batchSize: B });
      const a = gpu.transfers().infer!;
      // Several batches, one read-back: the int32 class ids of every (padded) batch, nothing else.
      expect(a.readbacks).toBe(1);
      expect(a.readbackBytes).toBe(idsBytes);
      // Up once: the normalised split and its labels, the row table, the zero ids and the zero counter.
      expect(a.uploadBytes).toBe(test.n * 3 * S * S * 4 + test.n * 4 + 2 * idsBytes + 4);
      expect(Array.from(first)).toEqual(Array.from(expected));
      expect(gpu.info.notes?.join('\n')).toMatch(/test split held in device memory/);

      const second = await gpu.infer({ split: test, batchSize: B });
      const b = gpu.transfers().infer!;
      expect(b.uploads - a.uploads).toBe(0);
      expect(b.readbacks - a.readbacks).toBe(1);
      expect(b.readbackBytes - a.readbackBytes).toBe(idsBytes);
      expect(Array.from(second)).toEqual(Array.from(expected));

      // The declared metrics' top-k hits and loss, summed on the device: one read-back of the three sums,
      // and up only the real-example mask and the zero sums (the split is still there).
      const f = await gpu.testFigures({ split: test, batchSize: B, topk: [1, 3], loss: true });
      const t = gpu.transfers().testFigures!;
      expect(t).toEqual({ uploads: 2, uploadBytes: idsBytes + 3 * 4, readbacks: 1, readbackBytes: 3 * 4 });
      expect(f!.topkHits).toEqual([1, 3].map((k) => topKHits(logits, test.labels, 10, k)));
      const loss = crossEntropySum(logits, test.labels, 10);
      expect(Math.abs(f!.lossSum! - loss)).toBeLessThan(1e-4 * loss);
      expect(gpu.info.notes?.join('\n')).not.toMatch(/CPU execution provider/);
    } finally {
      await gpu.dispose();
    }
  }, 60_000);
});

/** Largest difference of each parameter, relative to its scale with an absolute floor (see above). */
function expectWeightsClose(got: Weights, want: Weights, what: string): void {
  for (const p of model.params) {
    const a = got[p.name]!.data;
    const b = want[p.name]!.data;
    let scale = 0;
    let err = 0;
    for (let i = 0; i < b.length; i++) {
      scale = Math.max(scale, Math.abs(b[i]!));
      err = Math.max(err, Math.abs(a[i]! - b[i]!));
    }
    expect(err, `${what} ${p.name}: max abs difference ${err} against a scale of ${scale}`).toBeLessThan(
      1e-4 * scale + 1e-6,
    );
  }
}

/** A second training split of another size, so a split change also changes the step count. */
const otherSplit = split(12, 3, S, 10);

/**
 * Two train() calls: two shuffled epochs (a different order each) on the training split, then one on
 * another split (its loss read every second step on the device; the CPU reads every step). Losses are
 * keyed `call:epoch:step`.
 */
async function trainShuffled(
  s: ModelSession,
): Promise<{ losses: Map<string, number>; afterFirst: Weights; afterSecond: Weights }> {
  const losses = new Map<string, number>();
  let call = 0;
  const onStep: TrainRequest['onStep'] = (i) =>
    void (i.loss !== undefined && losses.set(`${call}:${i.epoch}:${i.step}`, i.loss));
  await s.train({
    split: dataset.train,
    epochs: 2,
    batchSize: 4,
    order: (e) => epochOrder(7, e, 16),
    lossEvery: 1,
    onStep,
  });
  const afterFirst = await s.getWeights();
  call++;
  await s.train({
    split: otherSplit,
    epochs: 1,
    batchSize: 4,
    order: (e) => epochOrder(8, e, 12),
    lossEvery: 2,
    onStep,
  });
  return { losses, afterFirst, afterSecond: await s.getWeights() };
}

describe('the gathered training step (batchSource: gather) on the CPU EP', () => {
  it('adds only Gather (batch, labels, rate) and Add (int32), both WebGPU EP kernels, to the fed step', () => {
    const fed = buildTrainStepGraph(model, { batch: 4, optimizer: opts.optimizer });
    const gathered = buildTrainStepGraph(model, { batch: 4, optimizer: opts.optimizer, batchSource: 'gather' });
    const count = (nodes: { op: string }[]) =>
      nodes.reduce((m, n) => m.set(n.op, (m.get(n.op) ?? 0) + 1), new Map<string, number>());
    const a = count(fed.graph.nodes);
    const b = count(gathered.graph.nodes);
    const added = [...b].flatMap(([op, k]) => Array.from({ length: k - (a.get(op) ?? 0) }, () => op)).sort();
    expect(added).toEqual(['Add', 'Gather', 'Gather', 'Gather', 'Gather']);
    expect(
      gathered.graph.inputs
        .filter((v) => v.type === 'int32')
        .map((v) => v.name)
        .sort(),
    ).toEqual(['labelsAll', 'order', 'step']);
  });

  it('computes the fed step of the rows order[step] picks at the rate lrs[step], and returns step + 1', async () => {
    const ort = await loadOrt();
    const optimizer = opts.optimizer;
    const fed = buildTrainStepGraph(model, { batch: 4, optimizer });
    const gathered = buildTrainStepGraph(model, { batch: 4, optimizer, batchSource: 'gather' });
    expect(gathered.graph.inputs.map((v) => v.name)).not.toContain(fed.inputs.x);
    expect(gathered.graph.inputs.map((v) => v.name)).not.toContain(fed.inputs.labels);
    expect(gathered.graph.inputs.map((v) => v.name)).not.toContain(fed.inputs.lr);
    const gi = gathered.inputs.gather!;
    const o = sessionOptions('cpu');
    const [a, b] = await Promise.all([
      ort.InferenceSession.create(fed.bytes, o),
      ort.InferenceSession.create(gathered.bytes, o),
    ]);
    try {
      const n = dataset.train.n;
      const per = 3 * S * S;
      const all = new Float32Array(n * per);
      const labelsAll = new Int32Array(n);
      fillBatch(
        dataset.train,
        { channels: 3, height: S, width: S },
        dataset.normalization,
        identityOrder(n),
        0,
        n,
        'NCHW',
        all,
        labelsAll,
      );
      const order = Int32Array.from(epochOrder(3, 0, n));
      const x = new Float32Array(4 * per);
      const labels = new Int32Array(4);
      const step = 2;
      fillBatch(
        dataset.train,
        { channels: 3, height: S, width: S },
        dataset.normalization,
        order,
        step * 4,
        4,
        'NCHW',
        x,
        labels,
      );
      const common: Record<string, InstanceType<typeof ort.Tensor>> = {};
      for (const p of model.params) common[p.name] = new ort.Tensor('float32', weights[p.name]!.data, p.shape);
      for (const [p, v] of Object.entries(fed.inputs.velocities))
        common[v] = new ort.Tensor(
          'float32',
          new Float32Array(weights[p]!.data.length).fill(0.01),
          model.params.find((q) => q.name === p)!.shape,
        );
      const ra = await a.run({
        ...common,
        [fed.inputs.x]: new ort.Tensor('float32', x, [4, 3, S, S]),
        [fed.inputs.labels]: new ort.Tensor('int32', labels, [4]),
        [fed.inputs.lr]: new ort.Tensor('float32', Float32Array.of(0.05), []),
      });
      const rb = await b.run({
        ...common,
        [gi.data]: new ort.Tensor('float32', all, [n, 3, S, S]),
        [gi.labelsAll]: new ort.Tensor('int32', labelsAll, [n]),
        [gi.order]: new ort.Tensor('int32', order, [n / 4, 4]),
        [gi.step]: new ort.Tensor('int32', Int32Array.of(step), []),
        // Only the step's own entry of the rate table is 0.05: reading another row would change the update.
        [gi.lrs]: new ort.Tensor(
          'float32',
          Float32Array.from({ length: n / 4 }, (_, i) => (i === step ? 0.05 : 1)),
          [n / 4],
        ),
      });
      expect(Array.from(rb[gi.stepNext]!.data as Int32Array)).toEqual([step + 1]);
      for (const name of [
        fed.outputs.loss,
        fed.outputs.correct,
        ...Object.values(fed.outputs.params),
        ...Object.values(fed.outputs.velocities),
        ...Object.values(fed.outputs.stats),
      ]) {
        expect(Array.from(rb[name]!.data as Float32Array), name).toEqual(Array.from(ra[name]!.data as Float32Array));
      }
    } finally {
      await a.release();
      await b.release();
    }
  });
});

describe.skipIf(!probe.available)(
  `onnxruntime/webgpu, batches gathered on the device (${probe.available ? probe.detail : probe.reason})`,
  () => {
    it('trains like onnxruntime/cpu over shuffled epochs and a change of split, and disposes twice in one process', async () => {
      const cpuSession = await createOrtBackend('cpu').load(model, weights, opts);
      let cpu: Awaited<ReturnType<typeof trainShuffled>>;
      try {
        cpu = await trainShuffled(cpuSession);
      } finally {
        await cpuSession.dispose();
      }
      expect(cpu.losses.size).toBe(8 + 3);
      for (let round = 0; round < 2; round++) {
        const s = await createOrtBackend('webgpu').load(model, weights, opts);
        try {
          const gpu = await trainShuffled(s);
          expect(s.info.notes?.join('\n')).toMatch(/training split held in device memory/);
          // Every step of the first call; steps 2 and 3 (the last) of the second.
          expect([...gpu.losses.keys()]).toEqual(
            [...cpu.losses.keys()].filter((k) => !k.startsWith('1:') || k === '1:0:1' || k === '1:0:2'),
          );
          for (const [k, loss] of gpu.losses) expect(loss, `loss ${k}`).toBeCloseTo(cpu.losses.get(k)!, 3);
          expectWeightsClose(gpu.afterFirst, cpu.afterFirst, `round ${round}, after two epochs:`);
          expectWeightsClose(gpu.afterSecond, cpu.afterSecond, `round ${round}, after the other split:`);
        } finally {
          await s.dispose();
          await s.dispose();
        }
      }
    }, 120_000);

    it('uploads the split in several chunks and trains as the host-fed device trainer does; over the buffer limit it feeds from the host', async () => {
      const ort = await loadOrt();
      const run = async (batches: 'host' | 'device', deviceBufferLimit?: number) => {
        const s = (await createOrtBackend('webgpu').load(model, weights, { ...opts, training: false })) as OrtSession;
        const notes: string[] = [];
        const trainer = await createOrtTrainer(
          {
            ort,
            model,
            state: s.state,
            opts,
            executionProviders: [EXECUTION_PROVIDER.webgpu],
            sessionOptions: sessionOptions('webgpu'),
            notes,
          },
          // 5 examples per chunk: the 16-example split goes up in four chunks joined by one Concat.
          { batches, uploadChunkBytes: 5 * 3 * S * S * 4, deviceBufferLimit },
        );
        try {
          const losses: number[] = [];
          await trainer.train({
            split: dataset.train,
            epochs: 2,
            batchSize: 4,
            order: (e) => epochOrder(9, e, 16),
            lossEvery: 1,
            onStep: (i) => void (i.loss !== undefined && losses.push(i.loss)),
          });
          s.state.version++;
          return { losses, weights: await s.getWeights(), notes };
        } finally {
          await trainer.dispose();
          await s.dispose();
        }
      };
      const host = await run('host');
      const device = await run('device');
      expect(device.notes.join('\n')).toMatch(/training split held in device memory/);
      expect(device.losses.length).toBe(8);
      for (let i = 0; i < 8; i++) expect(device.losses[i], `loss ${i}`).toBeCloseTo(host.losses[i]!, 4);
      expectWeightsClose(device.weights, host.weights, 'device-gathered against host-fed:');
      // A split over the device's buffer limit is fed from the host instead, and the notes say so.
      const over = await run('device', 16 * 3 * S * S * 4 - 1);
      expect(over.notes.join('\n')).toMatch(/exceeds the device's 0 MiB buffer limit: batches fed from the host/);
      expect(over.losses).toEqual(host.losses);
    }, 120_000);
  },
);

// Runs on every machine: the probe's answer is checked against the adapter Dawn reports on its own,
// so a probe that refuses a usable GPU, or accepts none, fails here instead of skipping the tests above.
describe('onnxruntime/webgpu probe', () => {
  it('agrees with the adapter Dawn reports, and says why when it refuses', async () => {
    const adapter = await dawnAdapter();
    if (adapter === undefined) {
      expect(probe).toMatchObject({ available: false, reason: expect.stringMatching(/WebGPU/) });
    } else if (adapter.software && !softwareGpuAllowed()) {
      expect(probe).toEqual({ available: false, reason: softwareAdapterReason(adapter.described) });
    } else {
      expect(probe, `Dawn reports a usable adapter (${adapter.described})`).toMatchObject({ available: true });
    }
  });
});
