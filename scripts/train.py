"""Trains a VAE from absl flags: `python scripts/train.py --flagfile=configs/X.flags`.

Flags become a `keras_vae.training.TrainConfig` handed to
`keras_vae.training.run`. The resolved flags are written to
`<workdir>/flags.txt`, so `--flagfile=<workdir>/flags.txt` reproduces the run,
or resumes it after a crash.
"""

import os
import sys

from absl import app
from absl import flags

FLAGS = flags.FLAGS
_NAMES = []


def _define(kind, name, default, help_text, enum_values=None):
    if kind == "enum":
        flags.DEFINE_enum(name, default, enum_values, help_text)
    else:
        getattr(flags, f"DEFINE_{kind}")(name, default, help_text)
    _NAMES.append(name)


_define("string", "workdir", None, "Directory of the run's outputs (required).")
_define("string", "dataset", "fashion_mnist", "A keras_vae.data spec.")
_define("string", "split", "train", "Training split, e.g. train or train[:50%].")
_define("float", "validation_fraction", 0.1, "Share of train held out to validate.")
_define("integer", "image_size", None, "Resize images to this height and width.")
_define(
    "enum",
    "binarize",
    "none",
    "Binarization.",
    enum_values=["none", "static", "dynamic", "threshold"],
)
_define("string", "arch", "mlp", "mlp, conv or dcgan.")
_define("integer", "latent_dim", None, "Latent size (default: the arch's).")
_define("list", "hidden_units", ["400"], "MLP hidden sizes, comma-separated.")
_define(
    "list",
    "encoder_units",
    None,
    "MLP encoder's own hidden sizes (default: --hidden_units).",
)
_define(
    "string", "likelihood", "bernoulli", "bernoulli, gaussian or continuous_bernoulli."
)
_define("float", "beta", 1.0, "KL weight (beta-VAE).")
_define("float", "free_bits", 0.0, "Free bits per latent dimension, in nats.")
_define(
    "enum",
    "prior",
    "standard_normal",
    "standard_normal (N(0, I)) or vamp (a VampPrior).",
    enum_values=["standard_normal", "vamp"],
)
_define("integer", "prior_components", 500, "VampPrior: number of pseudo-inputs.")
_define("integer", "kl_warmup_epochs", 0, "Epochs of linear KL warm-up (0: none).")
_define("integer", "epochs", 10, "Training epochs.")
_define("integer", "batch_size", 128, "Global batch size.")
_define("float", "learning_rate", 1e-3, "Adam learning rate.")
_define(
    "enum",
    "lr_schedule",
    "constant",
    "constant, or cosine decay over all epochs.",
    enum_values=["constant", "cosine"],
)
_define("float", "min_lr_fraction", 0.01, "Cosine: final rate / learning_rate.")
_define(
    "float",
    "ema_momentum",
    0.0,
    "Keep a moving average of the weights (e.g. 0.999) for validation and the "
    "final model; 0: off.",
)
_define("integer", "steps_per_execution", 50, "Steps per compiled call (PyTorch: 1).")
_define("integer", "max_examples", None, "Use only the first N examples.")
_define(
    "bool",
    "data_on_device",
    False,
    "Hold the training split on the accelerator, shuffled, batched and "
    "dynamically binarized there (JAX or PyTorch on a GPU).",
)
_define("integer", "seed", 0, "Random seed.")
_define(
    "bool",
    "deterministic",
    False,
    "Deterministic ops: a resumed run ends as an uninterrupted one would.",
)
_define(
    "enum",
    "backend",
    None,
    "Keras backend; set before Keras is imported.",
    enum_values=["tensorflow", "jax", "torch"],
)
_define("string", "mixed_precision", "none", "none, mixed_float16 or mixed_bfloat16.")
_define(
    "string", "distribution", "none", "none, mirrored, multi_worker or data_parallel."
)
_define("integer", "verbose", 1, "Keras fit verbosity: 0, 1 (progress bar) or 2.")
_define(
    "string",
    "export_dir",
    "saved_models",
    "Where the serving export goes (empty: no export).",
)
_define("string", "model_name", "vae", "Name of the exported models.")


def config_from_flags():
    """The TrainConfig the parsed flags describe (imports keras_vae lazily)."""
    from keras_vae.training import TrainConfig

    def as_int(value, name):
        try:
            return int(value)
        except ValueError:
            raise ValueError(
                f"--{name} must be a list of ints. Received: {value!r}"
            ) from None

    values = {name: FLAGS[name].value for name in _NAMES}
    for name in ("hidden_units", "encoder_units"):
        if values[name] is not None:
            values[name] = tuple(as_int(u, name) for u in values[name])
    # `--encoder_units=` (empty) undoes a flagfile's: mirror --hidden_units.
    values["encoder_units"] = values["encoder_units"] or None
    if values["workdir"] is None:
        raise ValueError("--workdir is required.")
    return TrainConfig(**values).validate()


def flags_text():
    """The resolved flags, workdir made absolute, for `--flagfile=`."""
    lines = []
    for name in _NAMES:
        if FLAGS[name].value is None:
            continue
        if name == "workdir":
            lines.append(f"--workdir={os.path.abspath(FLAGS.workdir)}")
        else:
            lines.append(FLAGS[name].serialize())
    return "".join(line + "\n" for line in lines)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    if FLAGS.backend:
        os.environ["KERAS_BACKEND"] = FLAGS.backend
    try:
        config = config_from_flags()
        from keras_vae.training import run

        run(config, flags_text=flags_text())
    except (ValueError, RuntimeError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    app.run(main)
