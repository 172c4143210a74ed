"""Trains one recipe at several latent sizes and compares them:

    python scripts/latent_study.py --flagfile=configs/fashion_mnist.flags \\
        --sizes=2,5,10,20,50 --study_dir=runs/latent_study

Each size is an ordinary training run in `<study_dir>/latent_<k>/` (resumable,
never exported); the study writes `study.json` and `latent_study.png`: test
negative ELBO against the latent size, and test reconstructions per size.
"""

import json
import os
import sys

from absl import app
from absl import flags

# The training flags, so a recipe flagfile applies unchanged.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train  # noqa: E402

flags.DEFINE_list("sizes", ["2", "5", "10", "20", "50"], "Latent sizes to train.")
flags.DEFINE_string("study_dir", "runs/latent_study", "Folder of the study.")
FLAGS = flags.FLAGS


def run_study():
    import dataclasses

    from keras_vae import data
    from keras_vae import plots
    from keras_vae.safe_loading import load_model
    from keras_vae.training import atomic
    from keras_vae.training import run

    try:
        sizes = [int(s) for s in FLAGS.sizes]
    except ValueError:
        raise ValueError(f"--sizes must be ints. Received: {FLAGS.sizes}") from None
    FLAGS.workdir = FLAGS.workdir or FLAGS.study_dir
    base = train.config_from_flags()
    results, recon = {}, {}
    images = None
    for size in sizes:
        config = dataclasses.replace(
            base,
            latent_dim=size,
            export_dir=None,
            workdir=os.path.join(FLAGS.study_dir, f"latent_{size}"),
        ).validate()
        metrics = run(config)
        results[size] = metrics["test"] or metrics["validation"]
        vae = load_model(os.path.join(config.workdir, "vae.keras"))
        if images is None:
            split = "test" if metrics["test"] else "validation"
            ds = data.load(
                config.dataset,
                split,
                batch_size=8,
                shuffle=False,
                image_size=config.image_size,
                validation_fraction=config.validation_fraction,
            )
            images = next(iter(ds)).numpy()
        recon[size] = vae.reconstruct(images)
    summary = {str(k): v for k, v in results.items()}
    atomic.write_json(os.path.join(FLAGS.study_dir, "study.json"), summary)
    plots.latent_sizes(
        sizes,
        [results[k]["neg_elbo"] for k in sizes],
        images,
        [recon[k] for k in sizes],
        os.path.join(FLAGS.study_dir, "latent_study.png"),
    )
    return summary


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    if FLAGS.backend:
        os.environ["KERAS_BACKEND"] = FLAGS.backend
    try:
        summary = run_study()
    except (ValueError, RuntimeError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    app.run(main)
