"""Publishes a trained model for serving:

    python scripts/export.py --model=<workdir>/vae.keras --export_dir=saved_models \\
        --model_name=NAME [--version=N]

Prints the published paths as one JSON object. See `keras_vae.export.export`.
"""

import json
import sys

from absl import app
from absl import flags

flags.DEFINE_string("model", None, "The .keras file to export (required).")
flags.DEFINE_string("export_dir", "saved_models", "TF Serving model root.")
flags.DEFINE_string("model_name", "vae", "Name of the exported models.")
flags.DEFINE_integer("version", None, "Version number (default: the next).")
flags.DEFINE_enum("onnx", "auto", ["auto", "yes", "no"], "Also write decoder.onnx.")
flags.DEFINE_string("serving_root", None, "export_dir as the server sees it.")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    from keras_vae.export import export

    onnx = {"auto": None, "yes": True, "no": False}[FLAGS.onnx]
    try:
        result = export(
            FLAGS.model,
            FLAGS.export_dir,
            FLAGS.model_name,
            FLAGS.version,
            onnx,
            FLAGS.serving_root,
        )
    except (ValueError, RuntimeError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    flags.mark_flag_as_required("model")
    app.run(main)
