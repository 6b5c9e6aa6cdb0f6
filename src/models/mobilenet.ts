/**
 * MobileNetV2 (Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", 2018) as a
 * graph template, sized for CIFAR-style 32×32 inputs.
 *
 * The network of the paper's Table 2, as torchvision builds it: a 3×3 conv of 32 filters, seventeen
 * inverted residual blocks (a 1×1 expansion by t with ReLU6, except where t = 1; a 3×3 depthwise conv
 * with ReLU6; a linear 1×1 projection; the input added back where the stride is 1 and the channels
 * agree), a 1×1 conv to 1280 channels with ReLU6, global average pooling and a dense layer. Every conv
 * is followed by batch norm and has no bias. The width multiplier α scales every channel count,
 * rounded to a multiple of 8 (never below 8 nor below 90 % of the scaled count), and the last conv to
 * 1280·max(1, α).
 *
 * For 32×32 inputs the stem and the first 24-channel stage have stride 1 instead of 2 (as common
 * CIFAR implementations do), so the last blocks work on 4×4 maps rather than 1×1. Strides change no
 * parameter: with 10 classes the count is torchvision's 3,504,872 less its 1000-class classifier
 * plus a 10-class one, 2,236,682.
 */
import { GRAPH_INPUT } from './ir.ts';
import type { NodeDef } from './ir.ts';
import { GraphBuilder } from './builder.ts';

/** Expansion t, output channels c, blocks n, stride s of the first block (Table 2; CIFAR strides). */
const SETTINGS: ReadonlyArray<readonly [number, number, number, number]> = [
  [1, 16, 1, 1],
  [6, 24, 2, 1],
  [6, 32, 3, 2],
  [6, 64, 4, 2],
  [6, 96, 3, 1],
  [6, 160, 3, 2],
  [6, 320, 1, 1],
];

/** Rounds a scaled channel count to a multiple of 8 as the reference implementation does. */
export function makeDivisible(v: number, divisor = 8): number {
  let out = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (out < 0.9 * v) out += divisor;
  return out;
}

/**
 * The graph of MobileNetV2 with width multiplier `width` for `numClasses` classes; `dropout > 0` puts
 * a dropout of that rate before the classifier (torchvision uses 0.2).
 */
export function mobilenetV2Graph(numClasses: number, width: number, dropout: number): NodeDef[] {
  const b = new GraphBuilder();
  let inC = makeDivisible(32 * width);
  let x = b.convBn('stem.', '', GRAPH_INPUT, { filters: inC, kernel: 3, stride: 1, padding: 1 });
  x = b.add('stem.relu', { kind: 'relu6' });
  let k = 0;
  for (const [t, c, n, s] of SETTINGS) {
    const outC = makeDivisible(c * width);
    for (let i = 0; i < n; i++) {
      const p = `block${++k}.`;
      const stride = i === 0 ? s : 1;
      const hidden = Math.round(inC * t);
      let h = x;
      if (t !== 1) {
        b.convBn(`${p}expand.`, '', h, { filters: hidden, kernel: 1, stride: 1, padding: 0 });
        h = b.add(`${p}expand.relu`, { kind: 'relu6' });
      }
      b.convBn(`${p}dw.`, '', h, { filters: hidden, kernel: 3, stride, padding: 1, groups: hidden });
      h = b.add(`${p}dw.relu`, { kind: 'relu6' });
      const y = b.convBn(`${p}project.`, '', h, { filters: outC, kernel: 1, stride: 1, padding: 0 });
      x = stride === 1 && inC === outC ? b.add(`${p}add`, { kind: 'add' }, [y, x]) : y;
      inC = outC;
    }
  }
  b.convBn('head.', '', x, { filters: makeDivisible(1280 * Math.max(1, width)), kernel: 1, stride: 1, padding: 0 });
  b.add('head.relu', { kind: 'relu6' });
  b.add('pool', { kind: 'globalavgpool' });
  b.add('flatten', { kind: 'flatten' });
  if (dropout > 0) b.add('drop', { kind: 'dropout', rate: dropout });
  b.add('fc', { kind: 'dense', units: numClasses });
  return b.nodes;
}
