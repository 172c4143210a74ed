"""Evaluates a trained VAE's likelihood:

    python scripts/evaluate.py --model=<workdir>/vae.keras --dataset=fashion_mnist \\
        --split=test --binarize=dynamic --iwae_samples=1000

Prints a table, then, as its last line, one JSON object (nats per example).
"""

import json
import sys

from absl import app
from absl import flags

flags.DEFINE_string("model", None, "The .keras file (required).")
flags.DEFINE_string("dataset", "fashion_mnist", "A keras_vae.data spec.")
flags.DEFINE_string("split", "test", "Split to evaluate.")
flags.DEFINE_integer("iwae_samples", 0, "K of the importance-weighted bound (0: none).")
flags.DEFINE_enum(
    "binarize",
    "none",
    ["none", "static", "dynamic", "threshold"],
    "Binarization of the evaluation data (dynamic: the literature's).",
)
flags.DEFINE_integer("batch_size", 250, "Images per batch.")
flags.DEFINE_integer("max_examples", None, "Evaluate only the first N images.")
flags.DEFINE_integer("image_size", None, "Resize images (must give the model's size).")
flags.DEFINE_integer("seed", 0, "Seed of the samples and of binarization.")
FLAGS = flags.FLAGS


def evaluate_from_flags():
    from keras_vae import data
    from keras_vae import evaluation
    from keras_vae.safe_loading import load_model

    if FLAGS.iwae_samples < 0:
        raise ValueError(f"--iwae_samples must be >= 0. Received: {FLAGS.iwae_samples}")
    vae = load_model(FLAGS.model)
    dataset = data.load(
        FLAGS.dataset,
        FLAGS.split,
        batch_size=FLAGS.batch_size,
        image_size=FLAGS.image_size,
        seed=FLAGS.seed,
        shuffle=False,
        binarize=None if FLAGS.binarize == "none" else FLAGS.binarize,
        max_examples=FLAGS.max_examples,
    )
    shape = tuple(dataset.element_spec.shape[1:])
    if shape != vae.image_shape:
        raise ValueError(
            f"--dataset {FLAGS.dataset!r} has images of shape {shape}, but the "
            f"model takes {vae.image_shape}; pass --image_size or another dataset."
        )
    return evaluation.evaluate(
        vae, dataset, iwae_samples=FLAGS.iwae_samples, seed=FLAGS.seed
    )


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    try:
        result = evaluate_from_flags()
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for key in (
        "examples",
        "neg_elbo",
        "reconstruction",
        "kl",
        "iwae_nll",
        "bits_per_dim",
        "active_units",
    ):
        if key in result:
            value = result[key]
            print(
                f"{key:>15}  {value:.4f}"
                if isinstance(value, float)
                else f"{key:>15}  {value}"
            )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    flags.mark_flag_as_required("model")
    app.run(main)
