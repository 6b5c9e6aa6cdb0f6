/**
 * Residual networks as graph templates, sized for CIFAR-style 32×32 inputs.
 *
 * - `resnet20`, `resnet32`, `resnet44`, `resnet56`, `resnet110`: the CIFAR-10 networks of He et al.,
 *   "Deep Residual Learning for Image Recognition" (2016), §4.2: a 3×3 conv of 16 filters, then three
 *   stages of n basic blocks (two 3×3 convs each) with 16, 32 and 64 filters on 32×32, 16×16 and
 *   8×8 maps (the first conv of stages 2 and 3 has stride 2), global average pooling and a dense
 *   layer: 6n + 2 weight layers. Shortcuts are option A of the paper: the identity, and where a block
 *   halves the map and doubles the filters, the input subsampled by 2 (a 1×1 average pool of stride 2)
 *   with the new channels zero-padded half before, half after, which adds no parameters. That is the
 *   option whose counts the paper gives: ResNet-20 0.27 M, ResNet-56 0.85 M, ResNet-110 1.7 M.
 * - `resnet18`: the common CIFAR variant of the ImageNet ResNet-18 (as in widely used PyTorch CIFAR
 *   code): a 3×3 stride-1 stem of 64 filters with no max pool, four stages of two basic blocks with
 *   64, 128, 256, 512 filters (stride 2 from the second stage), option-B projection shortcuts (1×1
 *   conv and batch norm) where the shape changes, global average pooling and a dense layer; 11.17 M
 *   parameters with 10 classes.
 *
 * Every conv is followed by batch norm and has no bias; the width multiplier scales every filter
 * count (rounded, at least 1). Node names follow the PyTorch modules (`layer2.0.conv1`,
 * `layer2.0.bn1`, `layer2.0.shortcut.conv`), so weights map one to one.
 */
import { GraphBuilder } from './builder.ts';
import { GRAPH_INPUT } from './ir.ts';
import type { NodeDef } from './ir.ts';

/** The CIFAR ResNets by name: blocks per stage. */
export const RESNET_CIFAR_DEPTHS = { resnet20: 3, resnet32: 5, resnet44: 7, resnet56: 9, resnet110: 18 } as const;

export type ResNetArch = keyof typeof RESNET_CIFAR_DEPTHS | 'resnet18';

export const RESNET_ARCHS: readonly ResNetArch[] = [...(Object.keys(RESNET_CIFAR_DEPTHS) as ResNetArch[]), 'resnet18'];

export function isResNetArch(name: string): name is ResNetArch {
  return (RESNET_ARCHS as readonly string[]).includes(name);
}

/**
 * The graph of a ResNet for `numClasses` classes (the input node is implicit) with every filter count
 * multiplied by `width`.
 */
export function resnetGraph(arch: ResNetArch, numClasses: number, width: number): NodeDef[] {
  const ch = (c: number) => Math.max(1, Math.round(c * width));
  const b = new GraphBuilder();
  const cifar = arch !== 'resnet18';
  const stages = cifar ? [16, 32, 64] : [64, 128, 256, 512];
  const blocks = cifar ? RESNET_CIFAR_DEPTHS[arch as keyof typeof RESNET_CIFAR_DEPTHS] : 2;
  let x = b.convBn('', '1', GRAPH_INPUT, { filters: ch(stages[0]!), kernel: 3, stride: 1, padding: 1 }, 'relu1');
  let inC = ch(stages[0]!);
  stages.forEach((filters, s) => {
    const outC = ch(filters);
    for (let i = 0; i < blocks; i++) {
      const p = `layer${s + 1}.${i}.`;
      const stride = s > 0 && i === 0 ? 2 : 1;
      const h = b.convBn(p, '1', x, { filters: outC, kernel: 3, stride, padding: 1 }, 'relu1');
      const y = b.convBn(p, '2', h, { filters: outC, kernel: 3, stride: 1, padding: 1 });
      let shortcut = x;
      if (stride !== 1 || inC !== outC) {
        if (cifar) {
          // Option A: subsample by the stride, zero-pad the new channels (half before, half after).
          let sub = x;
          if (stride !== 1) sub = b.add(`${p}shortcut.pool`, { kind: 'avgpool', size: 1, stride }, [x]);
          const extra = outC - inC;
          shortcut = b.add(
            `${p}shortcut.pad`,
            { kind: 'padchannels', before: Math.floor(extra / 2), after: extra - Math.floor(extra / 2) },
            [sub],
          );
        } else {
          shortcut = b.convBn(`${p}shortcut.`, '', x, { filters: outC, kernel: 1, stride, padding: 0 });
        }
      }
      b.add(`${p}add`, { kind: 'add' }, [y, shortcut]);
      x = b.add(`${p}relu2`, { kind: 'relu' });
      inC = outC;
    }
  });
  b.add('pool', { kind: 'globalavgpool' }, [x]);
  b.add('flatten', { kind: 'flatten' });
  b.add('fc', { kind: 'dense', units: numClasses });
  return b.nodes;
}
