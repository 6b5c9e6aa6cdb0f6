import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../../src/config/types.ts';
import { buildModelGraph, makeDivisible } from '../../src/models/index.ts';

const CIFAR = { channels: 3, height: 32, width: 32 };
const cfg = (arch: string, over: Partial<ModelConfig> = {}): ModelConfig => ({
  arch,
  width: 1,
  batchNorm: false,
  classifier: [256],
  dropout: 0,
  ...over,
});

/**
 * Published trainable parameter counts (10 classes, 32×32×3): He et al. 2016 Table 6 gives ResNet-20
 * 0.27 M, -32 0.46 M, -44 0.66 M, -56 0.85 M, -110 1.7 M (option A shortcuts, so no shortcut
 * parameters); the CIFAR ResNet-18 has 11,173,962; MobileNetV2 is torchvision's 3,504,872 with its
 * 1000-class classifier (1,281,000) replaced by a 10-class one (12,810).
 */
const PUBLISHED: Record<string, { count: number; tolerance: number }> = {
  resnet20: { count: 0.27e6, tolerance: 0.005e6 },
  resnet32: { count: 0.46e6, tolerance: 0.005e6 },
  resnet44: { count: 0.66e6, tolerance: 0.005e6 },
  resnet56: { count: 0.85e6, tolerance: 0.005e6 },
  resnet110: { count: 1.7e6, tolerance: 0.05e6 },
  resnet18: { count: 11_173_962, tolerance: 0 },
  mobilenetv2: { count: 3_504_872 - 1_281_000 + 12_810, tolerance: 0 },
};

describe('graph families', () => {
  it('every family has its published parameter count', () => {
    const rows: string[] = [];
    for (const [arch, { count, tolerance }] of Object.entries(PUBLISHED)) {
      const m = buildModelGraph(cfg(arch), CIFAR, 10);
      rows.push(`${arch.padEnd(12)} ${m.paramCount.toLocaleString('en-US').padStart(12)}  nodes ${m.nodes.length}`);
      expect(Math.abs(m.paramCount - count), `${arch}: ${m.paramCount} vs published ${count}`).toBeLessThanOrEqual(
        tolerance,
      );
    }
    console.log(`trainable parameters (32×32×3, 10 classes)\n${rows.join('\n')}`);
  });

  it('ResNet-20 is 6n+2 = 20 weight layers with option-A shortcuts on 32, 16, 8 pixel maps', () => {
    const m = buildModelGraph(cfg('resnet20'), CIFAR, 10);
    const convs = m.nodes.filter((n) => n.spec.kind === 'conv');
    expect(convs.length + m.nodes.filter((n) => n.spec.kind === 'dense').length).toBe(20);
    expect(m.nodes.filter((n) => n.spec.kind === 'add')).toHaveLength(9);
    expect(m.nodes.filter((n) => n.spec.kind === 'padchannels').map((n) => n.name)).toEqual([
      'layer2.0.shortcut.pad',
      'layer3.0.shortcut.pad',
    ]);
    const byName = new Map(m.nodes.map((n) => [n.name, n]));
    expect(byName.get('layer1.2.relu2')!.outShape).toEqual([16, 32, 32]);
    expect(byName.get('layer2.0.shortcut.pad')!.outShape).toEqual([32, 16, 16]);
    expect(byName.get('layer2.0.add')!.inputs).toEqual(['layer2.0.bn2', 'layer2.0.shortcut.pad']);
    // The identity shortcut reads the block input, which also feeds the block's first conv.
    expect(byName.get('layer1.1.add')!.inputs).toEqual(['layer1.1.bn2', 'layer1.0.relu2']);
    expect(byName.get('layer1.1.conv1')!.inputs).toEqual(['layer1.0.relu2']);
    expect(byName.get('layer3.2.relu2')!.outShape).toEqual([64, 8, 8]);
    expect(m.nodes.at(-1)!.name).toBe('fc');
    expect(m.params.find((p) => p.name === 'layer2.0.conv1.weight')!.shape).toEqual([32, 16, 3, 3]);
    expect(m.params.some((p) => p.name.endsWith('conv1.bias'))).toBe(false);
  });

  it('ResNet-18 uses projection shortcuts; MobileNetV2 depthwise convs and residuals where shapes agree', () => {
    const r = buildModelGraph(cfg('resnet18'), CIFAR, 10);
    expect(r.nodes.filter((n) => n.name.endsWith('shortcut.conv')).map((n) => n.name)).toEqual([
      'layer2.0.shortcut.conv',
      'layer3.0.shortcut.conv',
      'layer4.0.shortcut.conv',
    ]);
    const m = buildModelGraph(cfg('mobilenetv2'), CIFAR, 10);
    const dw = m.nodes.filter((n) => n.spec.kind === 'conv' && n.spec.groups !== 1);
    expect(dw).toHaveLength(17);
    for (const n of dw) expect(n.spec.kind === 'conv' && n.spec.groups).toBe(n.inShapes[0]![0]);
    // Paper's Table 2: residuals in the repeated blocks of each stage (1 + 2 + 3 + 2 + 2 = 10).
    expect(m.nodes.filter((n) => n.spec.kind === 'add')).toHaveLength(10);
    expect(m.nodes.find((n) => n.name === 'head.relu')!.outShape).toEqual([1280, 4, 4]);
  });

  it('width scales the families: MobileNetV2 rounds to multiples of 8, ResNet to whole filters', () => {
    expect([32, 16, 24, 96, 320].map((c) => makeDivisible(c * 0.35))).toEqual([16, 8, 8, 32, 112]);
    const m = buildModelGraph(cfg('mobilenetv2', { width: 0.5 }), CIFAR, 10);
    expect(m.nodes.find((n) => n.name === 'stem.conv')!.outShape[0]).toBe(16);
    expect(m.nodes.find((n) => n.name === 'head.conv')!.outShape[0]).toBe(1280);
    const r = buildModelGraph(cfg('resnet20', { width: 0.25 }), { channels: 3, height: 8, width: 8 }, 4);
    expect(r.nodes.find((n) => n.name === 'layer3.2.relu2')!.outShape).toEqual([16, 2, 2]);
    expect(r.nodes.find((n) => n.name === 'layer2.0.shortcut.pad')!.spec).toMatchObject({ before: 2, after: 2 });
  });
});
