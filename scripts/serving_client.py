"""Asks a running TF Serving for images and writes them as a PNG grid.

    python scripts/serving_client.py --server=http://localhost:8501 \\
        --model_name=vae_decoder --latent_dim=20 --num=16 --output=grid.png

`--format=instances` (row) or `inputs` (columnar) sends random latent codes to
`serving_default`; `--format=generate` asks the `generate` signature instead.
"""

import sys

import numpy as np
from absl import app
from absl import flags

flags.DEFINE_string("server", "http://localhost:8501", "TF Serving REST address.")
flags.DEFINE_string("model_name", "vae_decoder", "The decoder's served name.")
flags.DEFINE_integer("version", None, "Model version (default: the latest).")
flags.DEFINE_enum(
    "format", "instances", ["instances", "inputs", "generate"], "Request format."
)
flags.DEFINE_integer("latent_dim", None, "Latent size (needed unless generate).")
flags.DEFINE_integer("num", 16, "Number of images.")
flags.DEFINE_integer("seed", 0, "Seed of the latent codes.")
flags.DEFINE_string("output", "grid.png", "The PNG to write.")
FLAGS = flags.FLAGS


def request_body():
    from keras_vae.export import rest

    if FLAGS.format == "generate":
        return rest.predict_body(
            {"count": FLAGS.num, "seed": FLAGS.seed},
            "inputs",
            signature_name="generate",
        )
    if not FLAGS.latent_dim:
        raise ValueError("--latent_dim is required unless --format=generate")
    z = np.random.default_rng(FLAGS.seed).normal(size=(FLAGS.num, FLAGS.latent_dim))
    return rest.predict_body({"z": z.astype("float32")}, FLAGS.format)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    from keras_vae.export import rest
    from keras_vae.training.image_grids import make_grid
    from keras_vae.training.image_grids import save_png

    try:
        url = rest.predict_url(FLAGS.server, FLAGS.model_name, FLAGS.version)
        images = rest.parse_response(rest.post(url, request_body()))
        if images.ndim != 4:
            raise rest.ServingError(f"Expected images [n, H, W, C]; got {images.shape}")
        save_png(FLAGS.output, make_grid(images, columns=min(8, len(images))))
    except (ValueError, rest.ServingError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"Wrote {len(images)} images to {FLAGS.output}")
    return 0


if __name__ == "__main__":
    app.run(main)
