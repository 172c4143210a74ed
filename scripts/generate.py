"""Decodes prior samples, or given latent points, into a PNG grid:

python scripts/generate.py --model=<workdir>/vae.keras --num=64 --output=grid.png
python scripts/generate.py --model=... --z="0,0;1.5,-1" --output=points.png
"""

import sys

import numpy as np
from absl import app
from absl import flags

flags.DEFINE_string("model", None, "The .keras file (required).")
flags.DEFINE_integer("num", 64, "Number of prior samples.")
flags.DEFINE_integer("seed", 0, "Seed of the prior samples.")
flags.DEFINE_string("z", None, "Latent points: values separated by ',', points by ';'.")
flags.DEFINE_string("output", "grid.png", "The PNG to write.")
FLAGS = flags.FLAGS


def parse_points(text, latent_dim):
    """`"0,1;2,3"` -> float32 `[2, 2]`; each point needs `latent_dim` values."""
    points = []
    for i, chunk in enumerate(p for p in text.split(";") if p.strip()):
        try:
            values = [float(v) for v in chunk.split(",")]
        except ValueError:
            raise ValueError(
                f"--z point {i + 1} is not a list of numbers: {chunk!r}"
            ) from None
        if len(values) != latent_dim:
            raise ValueError(
                f"--z point {i + 1} has {len(values)} values; the model's latent "
                f"size is {latent_dim}. Received: {chunk!r}"
            )
        points.append(values)
    if not points:
        raise ValueError("--z holds no points.")
    return np.asarray(points, "float32")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    from keras_vae.safe_loading import load_model
    from keras_vae.training.image_grids import make_grid
    from keras_vae.training.image_grids import save_png

    try:
        vae = load_model(FLAGS.model)
        if FLAGS.z:
            images = vae.decode(parse_points(FLAGS.z, vae.latent_dim))
        else:
            images = vae.sample(FLAGS.num, seed=FLAGS.seed)
        save_png(FLAGS.output, make_grid(images, columns=min(8, len(images))))
    except (ValueError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"Wrote {len(images)} images to {FLAGS.output}")
    return 0


if __name__ == "__main__":
    flags.mark_flag_as_required("model")
    app.run(main)
