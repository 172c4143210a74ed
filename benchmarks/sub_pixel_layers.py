"""The two formulations of `SubPixelConv2DTranspose`, layer by layer.

Times one training step (forward, backward, Adam) of a model made of one
transposed-convolution layer, in the transposed and in the sub-pixel form,
the two alternated `--rounds` times in one process, fastest of each kept.
The default cases are the `conv` and `dcgan` decoders' layers and the
logits-layer shapes (few filters, stride 1) that set "auto"'s rule
(benchmarks/HISTORY.md, `conv`, session 13):

    KERAS_BACKEND=jax python benchmarks/sub_pixel_layers.py

Prints one `RESULT {json}` line per case.
"""

import json
import time

import keras
import numpy as np
from absl import app
from absl import flags

from keras_vae.architectures.sub_pixel import SubPixelConv2DTranspose

FLAGS = flags.FLAGS
flags.DEFINE_integer("batch_size", 128, "Batch size.")
flags.DEFINE_integer("rounds", 3, "Alternations of the two formulations.")
flags.DEFINE_integer("calls", 5, "Timed training steps per round.")
flags.DEFINE_list(
    "cases",
    [
        "64:64:3:2:7",
        "64:32:3:2:14",
        "128:64:4:2:7",
        "64:1:4:2:14",
        "64:3:4:2:14",
        "64:8:4:2:14",
        "32:1:3:2:14",
        "32:3:3:2:14",
        "32:8:3:2:14",
        "32:1:3:1:28",
    ],
    "in_channels:filters:kernel:stride:input side, per layer.",
)


def time_case(in_channels, filters, kernel, stride, side, rng):
    x = rng.random((FLAGS.batch_size, side, side, in_channels)).astype("float32")
    y = rng.random((FLAGS.batch_size, side * stride, side * stride, filters)).astype(
        "float32"
    )
    models = {}
    for formulation in ("transposed", "sub_pixel"):
        inputs = keras.Input(x.shape[1:])
        layer = SubPixelConv2DTranspose(
            filters, kernel, strides=stride, padding="same", formulation=formulation
        )
        models[formulation] = keras.Model(inputs, layer(inputs))
        models[formulation].compile(optimizer="adam", loss="mse")
        models[formulation].train_on_batch(x, y)  # compiles
    fastest = dict.fromkeys(models, float("inf"))
    for _ in range(FLAGS.rounds):
        for formulation, model in models.items():
            start = time.perf_counter()
            for _ in range(FLAGS.calls):
                model.train_on_batch(x, y)
            step = (time.perf_counter() - start) / FLAGS.calls
            fastest[formulation] = min(fastest[formulation], step)
    auto = SubPixelConv2DTranspose(filters, kernel, strides=stride, padding="same")
    return {
        "backend": keras.backend.backend(),
        "case": dict(
            in_channels=in_channels,
            filters=filters,
            kernel=kernel,
            stride=stride,
            side=side,
            batch_size=FLAGS.batch_size,
        ),
        "transposed_ms": round(1e3 * fastest["transposed"], 2),
        "sub_pixel_ms": round(1e3 * fastest["sub_pixel"], 2),
        "speedup": round(fastest["transposed"] / fastest["sub_pixel"], 3),
        "auto_uses_sub_pixel": auto.uses_sub_pixel,
    }


def main(argv):
    del argv
    rng = np.random.default_rng(0)
    for case in FLAGS.cases:
        sizes = [int(part) for part in case.split(":")]
        if len(sizes) != 5:
            raise ValueError(
                "Each --cases item must be in_channels:filters:kernel:stride:side. "
                f"Received: {case!r}"
            )
        print("RESULT " + json.dumps(time_case(*sizes, rng)), flush=True)


if __name__ == "__main__":
    app.run(main)
