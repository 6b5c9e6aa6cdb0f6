import { describe, expect, it } from 'vitest';
import type { ModelConfig } from '../../src/config/types.ts';
import { ModelError } from '../../src/errors.ts';
import { buildModelGraph, convPads, resolveLayers, VGG_CONFIGS } from '../../src/models/index.ts';

const CIFAR = { channels: 3, height: 32, width: 32 };
const cfg = (arch: string, over: Partial<ModelConfig> = {}): ModelConfig => ({
  arch,
  width: 1,
  batchNorm: false,
  classifier: [256],
  dropout: 0,
  ...over,
});

/** Trainable parameters with classifier [256], no BN, 32×32×3 in, 10 classes. */
const EXPECTED_COUNTS: Record<string, number> = {
  'vgg-small': 2_360_138,
  // 4 convs (1,550,976) + 2048·256+256 + 256·10+10
  vgg7: 2_078_090,
  // torchvision's feature extractors (9,220,480 / 9,404,992 / 14,714,688 / 20,024,384) + 512·256+256 + 2,570
  vgg11: 9_354_378,
  vgg13: 9_538_890,
  vgg16: 14_848_586,
  vgg19: 20_158_282,
};

const CONVS: Record<string, number> = { 'vgg-small': 4, vgg7: 4, vgg11: 8, vgg13: 10, vgg16: 13, vgg19: 16 };

function thrown(fn: () => unknown): ModelError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ModelError);
    return e as ModelError;
  }
  throw new Error('expected a ModelError');
}

describe('VGG family', () => {
  it('builds every variant with the expected parameter counts and shapes', () => {
    const rows: string[] = [];
    for (const arch of Object.keys(VGG_CONFIGS)) {
      const m = buildModelGraph(cfg(arch), CIFAR, 10);
      rows.push(
        `${arch.padEnd(10)} ${m.paramCount.toLocaleString('en-US').padStart(12)}  convs ${m.nodes.filter((l) => l.spec.kind === 'conv').length}  features ${m.nodes.find((l) => l.spec.kind === 'flatten')!.inShapes[0]!.join('×')}`,
      );
      expect(m.paramCount).toBe(EXPECTED_COUNTS[arch]);
      expect(m.nodes.filter((l) => l.spec.kind === 'conv')).toHaveLength(CONVS[arch]!);
      expect(m.nodes.at(-1)!.outShape).toEqual([10]);
      // Consecutive layers chain their shapes.
      m.nodes.forEach((l, i) => {
        if (i > 0) expect(l.inShapes[0]).toEqual(m.nodes[i - 1]!.outShape);
      });
      // Parameter names are unique and every trainable count adds up.
      expect(new Set(m.params.map((p) => p.name)).size).toBe(m.params.length);
    }
    console.log(`trainable parameters (classifier [256], 32×32×3, 10 classes)\n${rows.join('\n')}`);
  });

  it('takes 32×32 to 1×1×512 through five pools for vgg11..19', () => {
    for (const arch of ['vgg11', 'vgg13', 'vgg16', 'vgg19']) {
      const m = buildModelGraph(cfg(arch), CIFAR, 10);
      expect(m.nodes.filter((l) => l.spec.kind === 'maxpool')).toHaveLength(5);
      expect(m.nodes.find((l) => l.spec.kind === 'flatten')!.inShapes[0]).toEqual([512, 1, 1]);
    }
  });

  it('lays out vgg-small exactly and names parameters stably', () => {
    const m = buildModelGraph(cfg('vgg-small'), CIFAR, 10);
    expect(m.nodes.map((l) => l.name)).toEqual([
      'conv1',
      'relu1',
      'conv2',
      'relu2',
      'pool1',
      'conv3',
      'relu3',
      'conv4',
      'relu4',
      'pool2',
      'flatten1',
      'fc1',
      'relu5',
      'fc2',
    ]);
    expect(m.params.map((p) => `${p.name}:${p.shape.join('x')}:${p.init}`)).toEqual([
      'conv1.weight:64x3x3x3:he',
      'conv1.bias:64:zeros',
      'conv2.weight:64x64x3x3:he',
      'conv2.bias:64:zeros',
      'conv3.weight:128x64x3x3:he',
      'conv3.bias:128:zeros',
      'conv4.weight:128x128x3x3:he',
      'conv4.bias:128:zeros',
      'fc1.weight:8192x256:he',
      'fc1.bias:256:zeros',
      'fc2.weight:256x10:glorot',
      'fc2.bias:10:zeros',
    ]);
    expect(m.nodes[1]!.outShape).toEqual([64, 32, 32]);
    expect(m.nodes[4]!.outShape).toEqual([64, 16, 16]);
    expect(convPads(m.nodes[0]!)).toEqual([1, 1, 1, 1]);
  });

  it('inserts batch norm after each conv, before its ReLU, with running stats not counted', () => {
    const m = buildModelGraph(cfg('vgg-small', { batchNorm: true }), CIFAR, 10);
    expect(m.nodes.slice(0, 4).map((l) => l.name)).toEqual(['conv1', 'bn1', 'relu1', 'conv2']);
    expect(m.params.filter((p) => p.name.startsWith('bn1.')).map((p) => [p.name, p.trainable])).toEqual([
      ['bn1.gamma', true],
      ['bn1.beta', true],
      ['bn1.mean', false],
      ['bn1.var', false],
    ]);
    // 4 BN layers × (64, 64, 128, 128) channels × 2 trainable vectors
    expect(m.paramCount).toBe(2_360_138 + 2 * (64 + 64 + 128 + 128));
    // He init still chosen for convs whose ReLU comes after the BN.
    expect(m.params.find((p) => p.name === 'conv1.weight')!.init).toBe('he');
  });

  it('applies width (rounded, at least 1), classifier and dropout', () => {
    const m = buildModelGraph(cfg('vgg16', { width: 0.125, classifier: [64, 32], dropout: 0.5 }), CIFAR, 7);
    expect(m.nodes.find((l) => l.name === 'conv1')!.outShape[0]).toBe(8);
    expect(m.nodes.find((l) => l.name === 'conv13')!.outShape[0]).toBe(64);
    expect(m.nodes.slice(-8).map((l) => l.name)).toEqual([
      'flatten1',
      'fc1',
      'relu14',
      'drop1',
      'fc2',
      'relu15',
      'drop2',
      'fc3',
    ]);
    expect(m.nodes.at(-1)!.outShape).toEqual([7]);
    const tiny = buildModelGraph(cfg('vgg11', { width: 0.001 }), CIFAR, 10);
    expect(tiny.nodes.filter((l) => l.spec.kind === 'conv').every((l) => l.outShape[0] === 1)).toBe(true);
  });

  it('builds a custom stack with its own padding, stride and pool geometry', () => {
    const m = buildModelGraph(
      cfg('custom', {
        classifier: [],
        layers: [
          { kind: 'conv', filters: 6, kernel: 5, padding: 'valid' },
          { kind: 'relu' },
          { kind: 'maxpool', size: 3, stride: 2 },
          { kind: 'conv', filters: 4, kernel: 4, stride: 2 },
          { kind: 'relu' },
        ],
      }),
      { channels: 1, height: 28, width: 28 },
      10,
    );
    expect(m.nodes.map((l) => l.outShape.join('x'))).toEqual([
      '6x24x24',
      '6x24x24',
      '6x11x11',
      '4x6x6',
      '4x6x6',
      '144',
      '10',
    ]);
    // SAME_UPPER for an even kernel with stride 2 on 11: out 6, total pad 3 → 1 before, 2 after.
    expect(convPads(m.nodes[3]!)).toEqual([1, 1, 2, 2]);
  });
});

describe('impossible models', () => {
  it('names the layer and shapes when the spatial size reaches 0', () => {
    const e = thrown(() => buildModelGraph(cfg('vgg19'), { channels: 3, height: 16, width: 16 }, 10));
    expect(e.code).toBe('MODEL_SHAPE');
    expect(e.message).toMatch(/layer \d+ \(pool5, maxpool 2×2 stride 2\)/);
    expect(e.message).toContain('512×1×1');
    expect(e.message).toMatch(/Hint: .*larger input/);
  });

  it('rejects dense before flatten and conv after flatten', () => {
    const dense = thrown(() =>
      resolveLayers(
        'custom',
        [
          { kind: 'conv', filters: 4 },
          { kind: 'dense', units: 10 },
        ],
        [3, 8, 8],
        10,
      ),
    );
    expect(dense.message).toContain('layer 1 (fc1, dense 10)');
    expect(dense.message).toContain('4×8×8');
    expect(dense.hint).toMatch(/flatten/);
    const conv = thrown(() =>
      resolveLayers('custom', [{ kind: 'flatten' }, { kind: 'conv', filters: 4 }], [3, 8, 8], 10),
    );
    expect(conv.message).toContain('layer 1 (conv1');
    expect(conv.message).toContain('192');
  });

  it('rejects a kernel that does not fit, a bad rate, a wrong class count, an unknown arch', () => {
    expect(
      thrown(() => resolveLayers('c', [{ kind: 'conv', filters: 2, kernel: 5, padding: 'valid' }], [1, 3, 3], 2))
        .message,
    ).toMatch(/5×5 kernel does not fit the 3×3 input/);
    expect(
      thrown(() => resolveLayers('c', [{ kind: 'flatten' }, { kind: 'dropout', rate: 1.5 }], [1, 2, 2], 4)).message,
    ).toMatch(/rate must be in \[0, 1\)/);
    expect(
      thrown(() => resolveLayers('c', [{ kind: 'flatten' }, { kind: 'dense', units: 3 }], [1, 2, 2], 4)).message,
    ).toMatch(/ends in \[3\].*must end in \[4\]/);
    const arch = thrown(() => buildModelGraph(cfg('vgg-16'), CIFAR, 10));
    expect(arch.message).toMatch(/unknown architecture "vgg-16".*did you mean vgg16\?/);
    expect(thrown(() => buildModelGraph(cfg('custom'), CIFAR, 10)).message).toMatch(/needs a non-empty `layers`/);
  });
});
