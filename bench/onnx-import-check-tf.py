"""
Exports small Keras image classifiers to ONNX with tf2onnx (`tf2onnx.convert.from_keras`), for
bench/onnx-import-check.ts, as bench/onnx-import-check.py does with PyTorch's exporters: the same three
networks (ResNet-style, MobileNetV2-style, two-branch), written in Keras, channels-last as Keras writes
them.

    # TensorFlow and tf2onnx (with onnx) importable by this Python; nothing is installed here
    /path/to/python bench/onnx-import-check-tf.py --out /tmp/onnx-check-tf
    npx tsx bench/onnx-import-check.ts /tmp/onnx-check-tf

Each network is exported at opsets 13 and 17, twice: as Keras declares it (an NHWC input, which tf2onnx
turns into NCHW with a Transpose before the first Conv) and with `inputs_as_nchw` (an NCHW input, the
Transpose gone). The patterns tf2onnx writes: batch norm folded into Conv, Conv with bias, Relu, Clip
for ReLU6, depthwise Conv, MaxPool and AveragePool, Add, Concat, the spatial mean as GlobalAveragePool
or ReduceMean with a Squeeze, Keras's channels-last Flatten (a Transpose back to NHWC before the
Reshape), and Dense as MatMul + Add. Weights are seeded and batch-norm statistics set to non-trivial
values, so a wrong import shows in the logits. The manifest (manifest.json) lists every file with its
network, exporter, opset and input layout.
"""

import argparse
import itertools
import json
import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf2onnx  # noqa: E402

L = tf.keras.layers
SIZE, CHANNELS, CLASSES = 16, 3, 10


def conv_bn(x, filters, kernel=3, stride=1, relu=True, name=None):
    x = L.Conv2D(filters, kernel, strides=stride, padding='same', use_bias=False, name=name)(x)
    x = L.BatchNormalization()(x)
    return L.ReLU()(x) if relu else x


def resnetish():
    """A CIFAR-style residual net: stem, an identity block, a strided block with a 1x1 projection."""
    inp = tf.keras.Input((SIZE, SIZE, CHANNELS), name='images')
    x = conv_bn(inp, 8)
    y = conv_bn(x, 8)
    x = L.ReLU()(L.Add()([conv_bn(y, 8, relu=False), x]))
    y = conv_bn(x, 16, stride=2)
    proj = conv_bn(x, 16, kernel=1, stride=2, relu=False)
    x = L.ReLU()(L.Add()([conv_bn(y, 16, relu=False), proj]))
    x = L.GlobalAveragePooling2D()(x)
    return tf.keras.Model(inp, L.Dense(CLASSES, bias_initializer='random_uniform')(x), name='resnetish')


def mobilenetish():
    """MobileNetV2-style: ReLU6, an inverted residual with a depthwise conv, a spatial mean, dropout."""
    inp = tf.keras.Input((SIZE, SIZE, CHANNELS), name='images')
    x = L.ReLU(6.0)(L.BatchNormalization()(L.Conv2D(8, 3, strides=2, padding='same', use_bias=False)(inp)))
    y = L.ReLU(6.0)(L.BatchNormalization()(L.Conv2D(24, 1, use_bias=False)(x)))
    y = L.ReLU(6.0)(L.BatchNormalization()(L.DepthwiseConv2D(3, padding='same', use_bias=False)(y)))
    x = L.Add()([x, L.BatchNormalization()(L.Conv2D(8, 1, use_bias=False)(y))])
    x = L.ReLU(6.0)(L.BatchNormalization()(L.Conv2D(32, 1, use_bias=False)(x)))
    x = L.Lambda(lambda t: tf.reduce_mean(t, axis=[1, 2]))(x)
    x = L.Dropout(0.2)(x)
    return tf.keras.Model(inp, L.Dense(CLASSES, bias_initializer='random_uniform')(x), name='mobilenetish')


def inceptionish():
    """Two branches joined by a channel Concatenate, pooling, a channels-last Flatten, two Dense layers."""
    inp = tf.keras.Input((SIZE, SIZE, CHANNELS), name='images')
    a = L.Conv2D(8, 1, activation='relu', bias_initializer='random_uniform')(inp)
    b = L.Conv2D(8, 3, padding='same', activation='relu', bias_initializer='random_uniform')(inp)
    x = L.MaxPooling2D(2)(L.Concatenate()([a, b]))
    x = L.AveragePooling2D(2)(L.Conv2D(16, 3, padding='same', activation='relu')(x))
    x = L.Flatten()(x)
    x = L.Dropout(0.5)(L.Dense(32, activation='relu', bias_initializer='random_uniform')(x))
    return tf.keras.Model(inp, L.Dense(CLASSES, bias_initializer='random_uniform')(x), name='inceptionish')


NETWORKS = {'resnetish': resnetish, 'mobilenetish': mobilenetish, 'inceptionish': inceptionish}


def seeded(name, seed=0):
    tf.keras.utils.set_random_seed(seed)
    net = NETWORKS[name]()
    rng = np.random.default_rng(seed)
    for layer in net.layers:
        if isinstance(layer, L.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, gamma.shape).astype(np.float32),
                    rng.uniform(-0.2, 0.2, beta.shape).astype(np.float32),
                    rng.uniform(-0.2, 0.2, mean.shape).astype(np.float32),
                    rng.uniform(0.5, 1.5, var.shape).astype(np.float32),
                ]
            )
    return net


def export(net, path, opset, nchw):
    spec = (tf.TensorSpec((None, SIZE, SIZE, CHANNELS), tf.float32, name='images'),)
    extra = {'inputs_as_nchw': ['images']} if nchw else {}
    tf2onnx.convert.from_keras(net, input_signature=spec, opset=opset, output_path=path, **extra)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', required=True)
    ap.add_argument('--only', choices=sorted(NETWORKS))
    ap.add_argument('--opsets', default='13,17')
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    names = [args.only] if args.only else sorted(NETWORKS)
    opsets = [int(o) for o in args.opsets.split(',')]
    manifest = []
    for name, opset, layout in itertools.product(names, opsets, ('nhwc', 'nchw')):
        path = os.path.join(args.out, f'{name}-tf2onnx-{layout}-opset{opset}.onnx')
        export(seeded(name), path, opset, layout == 'nchw')
        exporter = f'tf2onnx.convert.from_keras ({layout} input)'
        versions = dict(tf2onnx=tf2onnx.__version__, tensorflow=tf.__version__)
        shape = [CHANNELS, SIZE, SIZE]
        entry = dict(file=os.path.basename(path), network=name, exporter=exporter, opset=opset, input=shape)
        manifest.append(dict(entry, layout=layout, **versions))
        print(f'{path}: {name}, tf2onnx, {layout} input, opset {opset}', file=sys.stderr)
    with open(os.path.join(args.out, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=2)


if __name__ == '__main__':
    main()
