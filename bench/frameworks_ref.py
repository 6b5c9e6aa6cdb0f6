"""Reference frameworks for bench/frameworks.ts: the same network, batch and optimizer in TensorFlow or
PyTorch, timed in rounds the TypeScript bench interleaves with expbench's own backends.

Installs nothing: it runs only where the framework is importable (see README, "Benchmarks"). Protocol,
one JSON object per line on stdin and stdout:

    {"cmd": "probe"}                                   -> {"ok": true, "version": "2.21.0", "detail": "..."}
    {"cmd": "build", "layers": [...], "input": [C, H, W], "classes": 10, "mode": "train" | "infer",
     "batch": 64, "threads": 2, "lr": 0.01, "momentum": 0.9}
                                                       -> {"ok": true, "warmup_s": 1.23}
    {"cmd": "round", "steps": 4}                       -> {"ok": true, "seconds": 0.51, "loss": 2.30}

`layers` is expbench's resolved layer list, logits layer included (conv with filters, kernel, stride,
padding 'same' or 'valid' or a number; relu; maxpool with size and stride; flatten; dense with units;
batchnorm; dropout), so the network is the one expbench builds. Training is softmax cross-entropy with SGD + momentum on a
fixed random batch (no input pipeline: the data never leaves the framework); inference is the forward
pass plus argmax. `build` runs one step (TensorFlow traces its tf.function there) so compilation is not
timed, as expbench's load() takes its first-run costs into build+init.

    python bench/frameworks_ref.py --framework tensorflow|pytorch
"""

import argparse
import json
import os
import sys
import time


def reply(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def conv_padding(layer):
    p = layer.get("padding", "same")
    if p in ("same", "valid"):
        return p
    return int(p)


class TensorFlowRef:
    name = "tensorflow"

    def __init__(self):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import tensorflow as tf  # noqa: PLC0415 (importable only where installed)

        self.tf = tf
        self.configured = False

    def probe(self):
        tf = self.tf
        onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on for x86 CPUs)")
        return {"version": tf.__version__, "detail": f"TensorFlow {tf.__version__} CPU, oneDNN opts {onednn}, NHWC"}

    def build(self, spec):
        tf = self.tf
        if not self.configured:
            tf.config.threading.set_intra_op_parallelism_threads(spec["threads"])
            tf.config.threading.set_inter_op_parallelism_threads(1)
            self.configured = True
        tf.keras.backend.clear_session()
        c, h, w = spec["input"]
        layers = [tf.keras.Input(shape=(h, w, c), batch_size=spec["batch"])]
        for l in spec["layers"]:
            k = l["kind"]
            if k == "conv":
                p = conv_padding(l)
                if isinstance(p, int):
                    layers.append(tf.keras.layers.ZeroPadding2D(p))
                    p = "valid"
                layers.append(tf.keras.layers.Conv2D(l["filters"], l["kernel"], strides=l["stride"], padding=p, use_bias=l.get("bias", True)))
            elif k == "relu":
                layers.append(tf.keras.layers.ReLU())
            elif k == "maxpool":
                layers.append(tf.keras.layers.MaxPooling2D(l["size"], strides=l["stride"]))
            elif k == "batchnorm":
                layers.append(tf.keras.layers.BatchNormalization(epsilon=l["epsilon"], momentum=l["momentum"]))
            elif k == "flatten":
                layers.append(tf.keras.layers.Flatten())
            elif k == "dense":
                layers.append(tf.keras.layers.Dense(l["units"], use_bias=l.get("bias", True)))
            elif k == "dropout":
                layers.append(tf.keras.layers.Dropout(l["rate"]))
            else:
                raise ValueError(f"layer kind {k} has no TensorFlow equivalent here")
        model = tf.keras.Sequential(layers)
        b = spec["batch"]
        self.x = tf.random.normal((b, h, w, c))
        self.y = tf.random.uniform((b,), 0, spec["classes"], dtype=tf.int32)
        loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        opt = tf.keras.optimizers.SGD(learning_rate=spec["lr"], momentum=spec["momentum"])

        @tf.function
        def train_step(x, y):
            with tf.GradientTape() as tape:
                loss = loss_fn(y, model(x, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            opt.apply_gradients(zip(grads, model.trainable_variables))
            return loss

        @tf.function
        def infer_step(x):
            return tf.argmax(model(x, training=False), axis=1)

        self.step = (lambda: float(train_step(self.x, self.y))) if spec["mode"] == "train" else (lambda: int(infer_step(self.x).numpy()[0]))

    def round(self, steps):
        out = None
        for _ in range(steps):
            out = self.step()
        return out


class PyTorchRef:
    name = "pytorch"

    def __init__(self):
        import torch  # noqa: PLC0415 (importable only where installed)

        self.torch = torch

    def probe(self):
        t = self.torch
        return {"version": t.__version__, "detail": f"PyTorch {t.__version__} CPU, eager, channels-last, mkldnn {t.backends.mkldnn.is_available()}"}

    def build(self, spec):
        t = self.torch
        nn = t.nn
        t.set_num_threads(spec["threads"])
        c, h, w = spec["input"]
        mods = []
        ch = c
        for l in spec["layers"]:
            k = l["kind"]
            if k == "conv":
                p = conv_padding(l)
                mods.append(nn.Conv2d(ch, l["filters"], l["kernel"], stride=l["stride"], padding=p, bias=l.get("bias", True)))
                ch = l["filters"]
            elif k == "relu":
                mods.append(nn.ReLU())
            elif k == "maxpool":
                mods.append(nn.MaxPool2d(l["size"], stride=l["stride"]))
            elif k == "batchnorm":
                mods.append(nn.BatchNorm2d(ch, eps=l["epsilon"], momentum=1 - l["momentum"]))
            elif k == "flatten":
                mods.append(nn.Flatten())
            elif k == "dense":
                mods.append(nn.LazyLinear(l["units"], bias=l.get("bias", True)))
            elif k == "dropout":
                mods.append(nn.Dropout(l["rate"]))
            else:
                raise ValueError(f"layer kind {k} has no PyTorch equivalent here")
        model = nn.Sequential(*mods)
        b = spec["batch"]
        x = t.randn(b, c, h, w).to(memory_format=t.channels_last)
        y = t.randint(0, spec["classes"], (b,))
        model(x)  # materialises the lazy layers
        model = model.to(memory_format=t.channels_last)
        opt = t.optim.SGD(model.parameters(), lr=spec["lr"], momentum=spec["momentum"])
        loss_fn = nn.CrossEntropyLoss()

        def train_step():
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            return float(loss)

        def infer_step():
            with t.inference_mode():
                return int(model(x).argmax(1)[0])

        if spec["mode"] == "train":
            model.train()
            self.step = train_step
        else:
            model.eval()
            self.step = infer_step

    def round(self, steps):
        out = None
        for _ in range(steps):
            out = self.step()
        return out


FRAMEWORKS = {"tensorflow": TensorFlowRef, "pytorch": PyTorchRef}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--framework", choices=sorted(FRAMEWORKS), required=True)
    args = ap.parse_args()
    try:
        ref = FRAMEWORKS[args.framework]()
    except Exception as e:  # noqa: BLE001 (any import failure makes the framework unavailable)
        reply({"ok": False, "error": f"{args.framework} is not importable: {type(e).__name__}: {e}"})
        return
    for line in sys.stdin:
        if not line.strip():
            continue
        msg = json.loads(line)
        try:
            if msg["cmd"] == "probe":
                reply({"ok": True, **ref.probe()})
            elif msg["cmd"] == "build":
                ref.build(msg)
                t0 = time.perf_counter()
                ref.round(1)
                reply({"ok": True, "warmup_s": time.perf_counter() - t0})
            elif msg["cmd"] == "round":
                t0 = time.perf_counter()
                out = ref.round(int(msg["steps"]))
                reply({"ok": True, "seconds": time.perf_counter() - t0, "loss": out})
            else:
                reply({"ok": False, "error": f"unknown command {msg['cmd']}"})
        except Exception as e:  # noqa: BLE001 (reported to the bench, which shows the row as failed)
            reply({"ok": False, "error": f"{type(e).__name__}: {e}"})


if __name__ == "__main__":
    main()
