"""Draws the tutorials' pictures for a trained model:

    python scripts/visualize.py --model=<workdir>/vae.keras --dataset=fashion_mnist \\
        --plots=all --output_dir=<workdir>/plots

`--plots` takes `all` or a comma-separated list of: reconstructions, samples,
latent_scatter, manifold, interpolation, attribute, traversals, curves (the
last reads `--history`, default `history.csv` beside the model).
"""

import os
import sys

from absl import app
from absl import flags

flags.DEFINE_string("model", None, "The .keras file (required).")
flags.DEFINE_string("dataset", "fashion_mnist", "A keras_vae.data spec (with labels).")
flags.DEFINE_string("split", "test", "Split to draw images from.")
flags.DEFINE_list("plots", ["all"], "Plots to draw.")
flags.DEFINE_string("output_dir", "plots", "Folder of the PNG files.")
flags.DEFINE_integer("num", 2000, "Images to encode for the data-driven plots.")
flags.DEFINE_integer("image_size", None, "Resize images (must give the model's size).")
flags.DEFINE_string("history", None, "history.csv for the curves.")
flags.DEFINE_integer("source_label", 0, "Attribute arithmetic: from this label...")
flags.DEFINE_integer("target_label", 1, "...towards this one.")
flags.DEFINE_integer("seed", 0, "Seed of the prior samples.")
FLAGS = flags.FLAGS


def draw_from_flags():
    """Checks everything first, then draws; returns the written paths."""
    from keras_vae import data
    from keras_vae import plots
    from keras_vae.safe_loading import load_model

    names = list(plots.PLOTS) if FLAGS.plots == ["all"] else FLAGS.plots
    unknown = sorted(set(names) - set(plots.PLOTS))
    if unknown:
        raise ValueError(
            f"Unknown plot(s) {unknown}. Expected some of {list(plots.PLOTS)}."
        )
    vae = load_model(FLAGS.model)
    history = FLAGS.history or os.path.join(os.path.dirname(FLAGS.model), "history.csv")
    if "curves" in names and not os.path.exists(history):
        raise ValueError(f"--plots has curves but there is no history at {history}.")
    images = labels = None
    if set(names) - {"samples", "curves"}:
        ds = data.load(
            FLAGS.dataset,
            FLAGS.split,
            batch_size=FLAGS.num,
            image_size=FLAGS.image_size,
            with_labels=True,
            shuffle=False,
            max_examples=FLAGS.num,
        )
        images, labels = (b.numpy() for b in next(iter(ds)))
        if tuple(images.shape[1:]) != vae.image_shape:
            raise ValueError(
                f"--dataset {FLAGS.dataset!r} has images of shape {images.shape[1:]}, "
                f"but the model takes {vae.image_shape}."
            )
    out = lambda name: os.path.join(FLAGS.output_dir, f"{name}.png")  # noqa: E731
    draw = {
        "reconstructions": lambda: plots.reconstructions(
            vae, images, out("reconstructions")
        ),
        "samples": lambda: plots.samples(vae, out("samples"), seed=FLAGS.seed),
        "latent_scatter": lambda: plots.latent_scatter(
            vae, images, labels, out("latent_scatter")
        ),
        "manifold": lambda: plots.manifold(vae, out("manifold"), images=images),
        "interpolation": lambda: plots.interpolation(
            vae, images[0], images[1], out("interpolation")
        ),
        "attribute": lambda: plots.attribute(
            vae,
            images,
            labels,
            out("attribute"),
            FLAGS.source_label,
            FLAGS.target_label,
        ),
        "traversals": lambda: plots.traversals(vae, images[0], out("traversals")),
        "curves": lambda: plots.curves(history, out("curves")),
    }
    return [draw[name]() for name in names]


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    try:
        written = draw_from_flags()
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    flags.mark_flag_as_required("model")
    app.run(main)
