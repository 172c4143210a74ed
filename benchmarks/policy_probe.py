"""One `fit` of a model workload under one dtype policy and seed, with what a
precision comparison needs beside the ELBO:

- per epoch: the mean training loss, the loss scale (`mixed_float16`) and how
  many optimizer steps were applied (a `LossScaleOptimizer` skips a step
  whose gradients overflowed);
- the test negative ELBO in the policy, and with the same weights in a
  float32 copy of the model (separates bad training from bad inference);
- each layer's largest output and count of non-finite values, on 500 test
  images for the encoder and 500 draws of z ~ N(0, I) for the decoder.

Data are NumPy arrays (no TensorFlow needed), as with `run.py --input=arrays`.
Session 11 ran it on an H100 to find why the torch backend's `conv` ELBO
was far off in single-seed runs (benchmarks/RESULTS.md, GPU); the switches
below are the ones that search toggled:

    KERAS_BACKEND=torch python benchmarks/policy_probe.py \
        --precision=float32 --epochs=3 --seed=0 --data_dir=...

Prints one `RESULT {json}` line.
"""

import common
import keras
import numpy as np
from absl import app
from absl import flags

import keras_vae

FLAGS = flags.FLAGS
flags.DEFINE_enum("workload", "conv", list(common.MODELS), "Model workload.")
flags.DEFINE_enum(
    "precision",
    "float32",
    ["float32", "mixed_float16", "mixed_bfloat16"],
    "Dtype policy.",
)
flags.DEFINE_integer("epochs", 3, "Epochs.")
flags.DEFINE_integer("seed", 0, "Seed of the weights, the data order and sampling.")
flags.DEFINE_integer("steps_per_execution", 1, "Steps per compiled call.")
flags.DEFINE_string("data_dir", None, "Fashion-MNIST IDX folder (see common.py).")
flags.DEFINE_integer("train_examples", None, "Use only the first N training images.")
flags.DEFINE_integer("test_examples", None, "Use only the first N test images.")
flags.DEFINE_bool("shuffle", True, "Shuffle the training images every epoch.")
flags.DEFINE_bool(
    "cpu_init",
    False,
    "Draw the initial weights on the CPU and copy them in (torch backend on a "
    "GPU: otherwise Keras draws them with CUDA's generator).",
)
flags.DEFINE_bool(
    "cpu_eps",
    False,
    "torch backend: draw the sampling noise with a CPU generator and move it "
    "to the device, instead of Keras's per-call CUDA generator.",
)
flags.DEFINE_bool("no_tf32", False, "torch backend: no TF32 in cuDNN convolutions.")
flags.DEFINE_string(
    "save_init",
    None,
    "Write the initial weights to this .weights.h5 file before training.",
)
flags.DEFINE_string(
    "init_from",
    None,
    "Start from the weights in this .weights.h5 file (written by --save_init, "
    "on any backend) instead of this backend's draw for --seed.",
)
flags.DEFINE_bool(
    "cudnn_deterministic", False, "torch backend: deterministic cuDNN algorithms."
)


def _torch_switches():
    """Applies the torch-only switches; returns the names of those set."""
    names = ("cpu_eps", "no_tf32", "cudnn_deterministic")
    used = [name for name in names if getattr(FLAGS, name)]
    if not used:
        return used
    if keras.backend.backend() != "torch":
        raise ValueError(
            f"--{used[0]} applies to the torch backend only. Received: "
            f"KERAS_BACKEND={keras.backend.backend()}"
        )
    import torch

    if FLAGS.no_tf32:
        torch.backends.cudnn.allow_tf32 = False
    if FLAGS.cudnn_deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    if FLAGS.cpu_eps:
        generator = torch.Generator().manual_seed(1234 + FLAGS.seed)
        common.draw_sampling_noise_with(
            lambda shape: torch.randn(shape, generator=generator),
            "cuda" if torch.cuda.is_available() else "cpu",
        )
    return used


def _build(policy, latent):
    keras.config.set_dtype_policy(policy)
    return keras_vae.build_vae(FLAGS.workload, (28, 28, 1), latent, seed=FLAGS.seed)


def _images(split, limit):
    folder = common.data_dir(FLAGS.data_dir)
    return common.read_unit_images(folder, split, limit)


def _neg_elbo(vae, test):
    logs = vae.evaluate(test, batch_size=500, verbose=0, return_dict=True)
    return round(logs["reconstruction"] + logs["kl"], 3)


def _layer_peaks(vae, test, latent):
    """{"encoder/<i>/<name>": [dtype, max |output|, non-finite count]}."""
    peaks = {}
    noise = np.random.default_rng(0).normal(size=(500, latent)).astype("float32")
    for part, inputs in (("encoder", test[:500]), ("decoder", noise)):
        model = getattr(vae, part)
        layers = model.layers[1:]
        outputs = keras.Model(model.inputs, [layer.output for layer in layers])(inputs)
        for i, (layer, output) in enumerate(zip(layers, outputs, strict=True)):
            values = keras.ops.convert_to_numpy(keras.ops.cast(output, "float32"))
            peaks[f"{part}/{i}/{layer.name}"] = [
                keras.backend.standardize_dtype(output.dtype),
                float(np.nanmax(np.abs(values))),
                int((~np.isfinite(values)).sum()),
            ]
    return peaks


class _EpochLog(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.rows = []

    def on_epoch_end(self, epoch, logs=None):
        optimizer = self.model.optimizer
        inner = getattr(optimizer, "inner_optimizer", optimizer)
        scale = getattr(optimizer, "dynamic_scale", None)
        if scale is not None:
            scale = float(keras.ops.convert_to_numpy(scale))
        self.rows.append(
            {
                "epoch": epoch,
                "loss": round(float(logs["loss"]), 2),
                "scale": scale,
                "applied": int(keras.ops.convert_to_numpy(inner.iterations)),
            }
        )


def main(argv):
    del argv
    settings = common.MODELS[FLAGS.workload]
    batch_size, latent = settings["batch_size"], settings["latent_dim"]
    learning_rate = settings["learning_rate"]
    switches = _torch_switches()
    keras.utils.set_random_seed(FLAGS.seed)
    train = _images("train", FLAGS.train_examples)
    test = _images("test", FLAGS.test_examples)
    vae = _build(FLAGS.precision, latent)
    if FLAGS.cpu_init:
        switches.append("cpu_init")
        keras.utils.set_random_seed(FLAGS.seed)
        with keras.device("cpu"):
            vae.set_weights(_build(FLAGS.precision, latent).get_weights())
    if FLAGS.init_from:
        switches.append("init_from")
        vae.load_weights(FLAGS.init_from)
    if FLAGS.save_init:
        vae.save_weights(FLAGS.save_init)
    vae.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        steps_per_execution=FLAGS.steps_per_execution,
    )
    epoch_log = _EpochLog()
    vae.fit(
        train,
        batch_size=batch_size,
        epochs=FLAGS.epochs,
        shuffle=FLAGS.shuffle,
        verbose=0,
        callbacks=[epoch_log],
    )
    neg_elbo = _neg_elbo(vae, test)
    layer_peaks = _layer_peaks(vae, test, latent)
    float32_copy = _build("float32", latent)
    float32_copy.compile()
    float32_copy.set_weights(vae.get_weights())
    common.emit(
        {
            "impl": "policy_probe",
            "backend": keras.backend.backend(),
            "workload": FLAGS.workload,
            "precision": FLAGS.precision,
            "seed": FLAGS.seed,
            "shuffle": FLAGS.shuffle,
            "switches": switches,
            "init_from": FLAGS.init_from,
            "steps": FLAGS.epochs * -(-len(train) // batch_size),
            "epochs_log": epoch_log.rows,
            "test_neg_elbo": neg_elbo,
            "test_neg_elbo_weights_in_float32": _neg_elbo(float32_copy, test),
            "layer_peaks": layer_peaks,
        }
    )


if __name__ == "__main__":
    app.run(main)
