/**
 * Gradient checking: analytic gradients from the generated backward graph, run by ONNX Runtime in
 * float32, against central finite differences of the float64 reference interpreter
 * (`autodiff-reference.ts`). Used by the tests; kept in src so any graph (a rule, a whole model) can be
 * checked the same way.
 */
import type * as OrtNode from 'onnxruntime-node';
import { appendGradients } from './autodiff.ts';
import { runReference } from './autodiff-reference.ts';
import type { RefTensor } from './autodiff-reference.ts';
import { OnnxGraph } from './graph.ts';
import type { ElemType } from './graph.ts';
import { mulberry32 } from '../../data/prng.ts';

/** One case: a graph builder returning its scalar loss and the values to differentiate, and its inputs. */
export interface GradCheckCase {
  name: string;
  build(graph: OnnxGraph): { loss: string; wrt: string[] };
  /** Values of the graph inputs (float64 here, rounded to float32 for ONNX Runtime). */
  feeds: Record<string, RefTensor>;
  /** At most this many elements per value are finite-differenced (a seeded sample above it). @default 400 */
  maxElems?: number;
  /** Finite-difference step. @default 1e-6 */
  eps?: number;
}

/** The check's result for one differentiated value. */
export interface GradCheckRow {
  case: string;
  value: string;
  elems: number;
  checked: number;
  /** max |analytic − fd| over the checked elements. */
  maxAbsErr: number;
  /** maxAbsErr / max |fd|: a norm-wise relative error that small elements do not inflate. */
  relErr: number;
  /** max |fd|, to show the check was not against zeros. */
  scale: number;
}

function toOrt(ort: typeof OrtNode, type: ElemType, t: RefTensor): OrtNode.Tensor {
  switch (type) {
    case 'float32':
      return new ort.Tensor('float32', Float32Array.from(t.data), t.shape);
    case 'int32':
      return new ort.Tensor('int32', Int32Array.from(t.data), t.shape);
    case 'int64':
      return new ort.Tensor(
        'int64',
        BigInt64Array.from(t.data, (v) => BigInt(v)),
        t.shape,
      );
    case 'bool':
      return new ort.Tensor('bool', Uint8Array.from(t.data), t.shape);
    case 'uint8':
      return new ort.Tensor('uint8', Uint8Array.from(t.data), t.shape);
  }
}

/** A copy of the graph's inputs, initializers and nodes (node objects cloned), for the reference side. */
function snapshot(g: OnnxGraph): OnnxGraph {
  const s = new OnnxGraph(g.name, g.opset);
  s.inputs.push(...g.inputs.map((v) => ({ ...v, shape: [...v.shape] })));
  for (const [k, v] of g.initializers) s.initializers.set(k, v);
  s.nodes.push(
    ...g.nodes.map((n) => ({ ...n, inputs: [...n.inputs], outputs: [...n.outputs], attrs: { ...n.attrs } })),
  );
  return s;
}

/**
 * Runs one case: builds the graph, appends gradients, runs it on ORT's CPU EP, and compares every
 * differentiated value with float64 central differences. Also returns the forward loss from both sides.
 */
export async function checkGradients(
  ort: typeof OrtNode,
  c: GradCheckCase,
  seed = 1,
): Promise<{ rows: GradCheckRow[]; loss: { ort: number; ref: number } }> {
  const g = new OnnxGraph(c.name);
  const { loss, wrt } = c.build(g);
  // Give training-mode Dropout nodes a named mask before the snapshot, so both sides share its name.
  const masks: string[] = [];
  for (const n of g.nodes) {
    if (n.op === 'Dropout' && !n.outputs[1]) n.outputs[1] = `mask_${masks.length}`;
    if (n.op === 'Dropout') masks.push(n.outputs[1]!);
  }
  const ref = snapshot(g);
  const { grads, shapes } = appendGradients(g, loss, wrt);
  g.output(g.op('Identity', [loss]), 'float32', []);
  const outNames = [g.outputs[0]!.name];
  for (const w of wrt) {
    const name = g.op('Identity', [grads[w]!]);
    g.output(name, 'float32', shapes.get(w)!.shape);
    outNames.push(name);
  }
  for (const m of masks) {
    const name = g.op('Cast', [m], { to: 1 });
    g.output(name, 'float32', shapes.get(m)!.shape);
    outNames.push(name);
  }
  const session = await ort.InferenceSession.create(g.toModelBytes(), {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
  });
  const feeds: Record<string, OrtNode.Tensor> = {};
  const rounded: Record<string, RefTensor> = {};
  for (const inp of g.inputs) {
    const t = c.feeds[inp.name];
    if (!t) throw new Error(`gradient check ${c.name}: no feed for input ${inp.name}`);
    const r = inp.type === 'float32' ? { shape: t.shape, data: Float64Array.from(Float32Array.from(t.data)) } : t;
    rounded[inp.name] = r;
    feeds[inp.name] = toOrt(ort, inp.type, r);
  }
  const out = await session.run(feeds);
  await session.release();
  const given: Record<string, RefTensor> = { ...rounded };
  masks.forEach((m, i) => {
    const t = out[outNames[1 + wrt.length + i]!]!;
    given[m] = { shape: [...t.dims], data: Float64Array.from(t.data as Float32Array) };
  });
  const refLoss = (vals: Record<string, RefTensor>) => runReference(ref, vals).get(loss)!.data[0]!;
  const lossRef = refLoss(given);
  const lossOrt = (out[outNames[0]!]!.data as Float32Array)[0]!;

  const rows: GradCheckRow[] = [];
  const eps = c.eps ?? 1e-6;
  const maxElems = c.maxElems ?? 400;
  const rand = mulberry32(seed);
  wrt.forEach((w, wi) => {
    const analytic = out[outNames[1 + wi]!]!.data as Float32Array;
    const base = given[w];
    if (!base) throw new Error(`gradient check ${c.name}: ${w} is not a graph input`);
    const n = base.data.length;
    let idx = Array.from({ length: n }, (_, i) => i);
    if (n > maxElems) {
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [idx[i], idx[j]] = [idx[j]!, idx[i]!];
      }
      idx = idx.slice(0, maxElems);
    }
    let maxAbs = 0;
    let scale = 0;
    for (const i of idx) {
      const plus = Float64Array.from(base.data);
      plus[i] = plus[i]! + eps;
      const minus = Float64Array.from(base.data);
      minus[i] = minus[i]! - eps;
      const fd =
        (refLoss({ ...given, [w]: { shape: base.shape, data: plus } }) -
          refLoss({ ...given, [w]: { shape: base.shape, data: minus } })) /
        (2 * eps);
      maxAbs = Math.max(maxAbs, Math.abs(analytic[i]! - fd));
      scale = Math.max(scale, Math.abs(fd));
    }
    rows.push({
      case: c.name,
      value: w,
      elems: n,
      checked: idx.length,
      maxAbsErr: maxAbs,
      relErr: maxAbs / Math.max(scale, 1e-12),
      scale,
    });
  });
  return { rows, loss: { ort: lossOrt, ref: lossRef } };
}

/** Formats rows as a fixed-width table for test output. */
export function formatGradTable(rows: GradCheckRow[]): string {
  const head = 'case                          value            elems  checked   max|fd|     max abs err  rel err';
  const lines = rows.map(
    (r) =>
      `${r.case.padEnd(29)} ${r.value.padEnd(16)} ${String(r.elems).padStart(5)}  ${String(r.checked).padStart(7)}   ${r.scale.toExponential(2).padStart(9)}   ${r.maxAbsErr.toExponential(2).padStart(9)}   ${r.relErr.toExponential(2)}`,
  );
  return [head, ...lines].join('\n');
}
