"""
Exports small PyTorch image classifiers to ONNX with PyTorch's exporters, for bench/onnx-import-check.ts,
which checks that expbench imports each file, infers the same class ids on onnxruntime/cpu and tfjs as
ONNX Runtime does on the untouched file, and trains it.

    python3 -m venv /path/to/venv && /path/to/venv/bin/pip install torch onnx onnxscript
    /path/to/venv/bin/python bench/onnx-import-check.py --out /tmp/onnx-check
    npx tsx bench/onnx-import-check.ts /tmp/onnx-check

The networks cover the patterns exporters write for common image classifiers: Conv with bias,
BatchNormalization kept or folded into Conv, ReLU and ReLU6 (Clip), max and average pooling, a residual
Add with a strided 1x1 projection, depthwise Conv (group = channels), channel Concat, the spatial mean as
GlobalAveragePool (adaptive_avg_pool2d) or ReduceMean (x.mean([2, 3])), x.view(x.size(0), -1) (the
Shape -> Gather -> Unsqueeze -> Concat -> Reshape chain), torch.flatten, Dropout and Linear (Gemm
with transB = 1). Each is exported with the TorchScript exporter at opsets 13 and 17 (folding batch
norm into Conv, as it does in eval mode with constant folding), with the TorchScript exporter without
constant folding (BatchNormalization kept, opset 13) and, where onnxscript is installed, with the dynamo
exporter at opset 18 (batch norm folded, weights as external data in a `.onnx.data` file). Weights are seeded, and batch-norm running statistics are set to non-trivial
values, so a wrong import shows in the logits.

`--only NAME` exports one network; `--opsets 13` limits the TorchScript opsets; `--no-dynamo` skips the
dynamo exporter. The manifest (manifest.json) lists every file with its network, exporter and opset.
"""

import argparse
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class ResNetish(nn.Module):
    """A CIFAR-style residual net: stem, an identity block, a strided block with a 1x1 projection."""

    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.b1c1 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.b1bn1 = nn.BatchNorm2d(8)
        self.b1c2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.b1bn2 = nn.BatchNorm2d(8)
        self.b2c1 = nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False)
        self.b2bn1 = nn.BatchNorm2d(16)
        self.b2c2 = nn.Conv2d(16, 16, 3, padding=1, bias=False)
        self.b2bn2 = nn.BatchNorm2d(16)
        self.b2proj = nn.Conv2d(8, 16, 1, stride=2, bias=False)
        self.b2projbn = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.b1bn1(self.b1c1(x)))
        x = F.relu(self.b1bn2(self.b1c2(y)) + x)
        y = F.relu(self.b2bn1(self.b2c1(x)))
        x = F.relu(self.b2bn2(self.b2c2(y)) + self.b2projbn(self.b2proj(x)))
        x = F.adaptive_avg_pool2d(x, 1)
        x = x.view(x.size(0), -1)
        return self.fc(x)


class MobileNetish(nn.Module):
    """MobileNetV2-style: ReLU6, an inverted residual with a depthwise conv, a spatial mean, dropout."""

    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False)
        self.stem_bn = nn.BatchNorm2d(8)
        self.expand = nn.Conv2d(8, 24, 1, bias=False)
        self.expand_bn = nn.BatchNorm2d(24)
        self.dw = nn.Conv2d(24, 24, 3, padding=1, groups=24, bias=False)
        self.dw_bn = nn.BatchNorm2d(24)
        self.project = nn.Conv2d(24, 8, 1, bias=False)
        self.project_bn = nn.BatchNorm2d(8)
        self.head = nn.Conv2d(8, 32, 1, bias=False)
        self.head_bn = nn.BatchNorm2d(32)
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(32, classes)

    def forward(self, x):
        x = F.relu6(self.stem_bn(self.stem(x)))
        y = F.relu6(self.expand_bn(self.expand(x)))
        y = F.relu6(self.dw_bn(self.dw(y)))
        x = x + self.project_bn(self.project(y))
        x = F.relu6(self.head_bn(self.head(x)))
        x = x.mean([2, 3])
        return self.fc(self.drop(x))


class Inceptionish(nn.Module):
    """Two branches joined by a channel Concat, average pooling, torch.flatten and a two-layer classifier."""

    def __init__(self, classes=10):
        super().__init__()
        self.a = nn.Conv2d(3, 8, 1)
        self.b = nn.Conv2d(3, 8, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.conv = nn.Conv2d(16, 16, 3, padding=1)
        self.avg = nn.AvgPool2d(2)
        self.fc1 = nn.Linear(16 * 4 * 4, 32)
        self.drop = nn.Dropout(0.5)
        self.fc2 = nn.Linear(32, classes)

    def forward(self, x):
        x = torch.cat([F.relu(self.a(x)), F.relu(self.b(x))], 1)
        x = self.pool(x)
        x = self.avg(F.relu(self.conv(x)))
        x = torch.flatten(x, 1)
        return self.fc2(self.drop(F.relu(self.fc1(x))))


NETWORKS = {'resnetish': ResNetish, 'mobilenetish': MobileNetish, 'inceptionish': Inceptionish}


def seeded(name, seed=0):
    torch.manual_seed(seed)
    net = NETWORKS[name]()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return net.eval()


def export(net, path, opset, exporter):
    """`torchscript` folds batch norm into Conv; `torchscript-keepbn` keeps BatchNormalization nodes
    (no constant folding); `dynamo` writes its weights as external data beside the file."""
    x = torch.randn(2, 3, 16, 16)
    kwargs = dict(input_names=['images'], output_names=['scores'], opset_version=opset)
    if exporter == 'dynamo':
        batch = torch.export.Dim('batch', min=1, max=1024)
        torch.onnx.export(net, (x,), path, dynamo=True, dynamic_shapes={'x': {0: batch}}, **kwargs)
    else:
        torch.onnx.export(
            net,
            (x,),
            path,
            dynamo=False,
            do_constant_folding=exporter == 'torchscript',
            dynamic_axes={'images': {0: 'batch'}, 'scores': {0: 'batch'}},
            **kwargs,
        )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', required=True)
    ap.add_argument('--only', choices=sorted(NETWORKS))
    ap.add_argument('--opsets', default='13,17')
    ap.add_argument('--no-dynamo', action='store_true')
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    try:
        import onnxscript  # noqa: F401 (the dynamo exporter needs it)

        dynamo = not args.no_dynamo
    except ImportError:
        dynamo = False
        print('onnxscript not installed: the dynamo exporter is skipped', file=sys.stderr)
    opsets = [int(o) for o in args.opsets.split(',')]
    exporters = [('torchscript', o) for o in opsets] + [('torchscript-keepbn', opsets[0])]
    exporters += [('dynamo', 18)] if dynamo else []
    manifest = []
    for name in [args.only] if args.only else sorted(NETWORKS):
        for exporter, opset in exporters:
            path = os.path.join(args.out, f'{name}-{exporter}-opset{opset}.onnx')
            export(seeded(name), path, opset, exporter)
            manifest.append(
                {
                    'file': os.path.basename(path),
                    'network': name,
                    'exporter': f'torch.onnx.export ({exporter})',
                    'torch': torch.__version__,
                    'opset': opset,
                    'input': [3, 16, 16],
                }
            )
            print(f'{path}: {name}, {exporter}, opset {opset}')
    with open(os.path.join(args.out, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=2)


if __name__ == '__main__':
    main()
