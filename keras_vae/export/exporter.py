"""`export`: SavedModels for TF Serving, `.keras` files, ONNX and a manifest."""

import importlib.util
import json
import os
import subprocess
import sys
import tempfile

import keras

from keras_vae.export import publish
from keras_vae.export import signatures
from keras_vae.safe_loading import load_model
from keras_vae.safe_loading import sha256_of


def _files_under(root, relative_to):
    for folder, _, names in os.walk(root):
        for name in sorted(names):
            path = os.path.join(folder, name)
            yield os.path.relpath(path, relative_to), path


def models_config(export_dir, serving_root=None):
    """TF Serving's `--model_config_file` text listing every exported model."""
    root = serving_root or os.path.abspath(export_dir)
    entries = []
    for name in sorted(os.listdir(export_dir)):
        base = os.path.join(export_dir, name)
        if name.endswith(("_decoder", "_encoder")) and publish.versions(base):
            entries.append(
                "  config {\n"
                f'    name: "{name}"\n'
                f'    base_path: "{root.rstrip("/")}/{name}"\n'
                '    model_platform: "tensorflow"\n'
                "  }\n"
            )
    return "model_config_list {\n" + "".join(entries) + "}\n"


def _onnx_available():
    return all(importlib.util.find_spec(m) for m in ("onnx", "tf2onnx"))


def export_in_tensorflow(
    model, export_dir, model_name, version=None, onnx=None, serving_root=None
):
    """The export itself; needs KERAS_BACKEND=tensorflow (see `export`)."""
    from keras_vae.training import atomic

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError("export_in_tensorflow needs KERAS_BACKEND=tensorflow")
    vae = load_model(model) if isinstance(model, (str, os.PathLike)) else model
    if onnx is None:
        onnx = _onnx_available()
    bases = {
        "decoder": os.path.join(export_dir, f"{model_name}_decoder"),
        "encoder": os.path.join(export_dir, f"{model_name}_encoder"),
        "files": os.path.join(export_dir, model_name),
    }
    if version is None:
        version = publish.next_version(bases.values())
    for base in bases.values():
        if os.path.exists(os.path.join(base, str(version))):
            raise ValueError(
                f"Version {version} of {model_name} already exists under "
                f"{export_dir}; versions are never overwritten."
            )
    decoder = publish.publish(
        bases["decoder"], version, lambda tmp: signatures.write_decoder(vae, tmp)
    )
    encoder = publish.publish(
        bases["encoder"], version, lambda tmp: signatures.write_encoder(vae, tmp)
    )
    final = os.path.join(bases["files"], str(version))

    def write_files(tmp):
        os.makedirs(tmp)
        vae.save(os.path.join(tmp, "vae.keras"))
        vae.encoder.save(os.path.join(tmp, "encoder.keras"))
        vae.decoder.save(os.path.join(tmp, "decoder.keras"))
        if onnx:
            signatures.write_decoder_onnx(vae, os.path.join(tmp, "decoder.onnx"))
        hashes = {}
        for folder, published in ((decoder, decoder), (encoder, encoder), (tmp, final)):
            for relative, path in _files_under(folder, folder):
                name = os.path.relpath(os.path.join(published, relative), export_dir)
                hashes[name] = sha256_of(path)
        import tensorflow as tf

        manifest = {
            "model_name": model_name,
            "version": version,
            "latent_dim": vae.latent_dim,
            "image_shape": list(vae.image_shape),
            "likelihood": keras.saving.serialize_keras_object(vae.likelihood)[
                "class_name"
            ],
            "keras_version": keras.__version__,
            "tensorflow_version": tf.__version__,
            "signatures": {
                "decoder": {
                    "serving_default": {
                        "inputs": {"z": "float32"},
                        "outputs": {"images": "float32"},
                    },
                    "generate": {
                        "inputs": {"count": "int32", "seed": "int32"},
                        "outputs": {"images": "float32"},
                    },
                },
                "encoder": {
                    "serving_default": {
                        "inputs": {"images": "float32"},
                        "outputs": {"mean": "float32", "log_var": "float32"},
                    },
                    "serving_uint8": {
                        "inputs": {"pixels": "uint8"},
                        "outputs": {"mean": "float32", "log_var": "float32"},
                    },
                },
            },
            "sha256": hashes,
        }
        with open(os.path.join(tmp, "manifest.json"), "w") as f:
            json.dump(manifest, f, indent=2, sort_keys=True)

    files = publish.publish(bases["files"], version, write_files)
    config_path = os.path.join(export_dir, "models.config")
    atomic.write_text(config_path, models_config(export_dir, serving_root))
    return {
        "version": version,
        "decoder": decoder,
        "encoder": encoder,
        "files": files,
        "manifest": os.path.join(files, "manifest.json"),
        "models_config": config_path,
        "onnx": bool(onnx),
    }


_CHILD = (
    "import json, sys\n"
    "from keras_vae.export.exporter import export_in_tensorflow\n"
    "print(json.dumps(export_in_tensorflow(*json.loads(sys.argv[1]))))\n"
)


def export(
    model,
    export_dir="saved_models",
    model_name="vae",
    version=None,
    onnx=None,
    serving_root=None,
):
    """Publishes version `version` (default: the next) of `model`.

    Writes `NAME_decoder/<v>/` and `NAME_encoder/<v>/` (SavedModels, see
    `keras_vae.export.signatures`), `NAME/<v>/` with `vae.keras`,
    `encoder.keras`, `decoder.keras`, `decoder.onnx` (when onnx and tf2onnx
    are installed, or `onnx=True`) and `manifest.json` (SHA-256 of every
    file, shapes, likelihood, versions), and `models.config` for
    `tensorflow_model_server --model_config_file`.

    SavedModels are written by the TensorFlow backend. Under JAX or PyTorch
    the model is saved to `.keras` and exported by a TensorFlow-backend
    subprocess, so models trained on any backend export the same way.

    Args:
        model: a `keras_vae.VAE` or the path of a `.keras` file.
        export_dir: the TF Serving model root.
        model_name: NAME above.
        version: int, or None for one more than the highest present.
        onnx: True, False, or None (when available).
        serving_root: the export_dir's path as the server sees it (e.g.
            "/models" in Docker) for models.config; default its absolute path.

    Returns:
        dict of the published paths and version.
    """
    export_dir = os.path.abspath(export_dir)
    if keras.backend.backend() == "tensorflow":
        return export_in_tensorflow(
            model, export_dir, model_name, version, onnx, serving_root
        )
    with tempfile.TemporaryDirectory() as scratch:
        if not isinstance(model, (str, os.PathLike)):
            path = os.path.join(scratch, "vae.keras")
            model.save(path)
            model = path
        args = [os.fspath(model), export_dir, model_name, version, onnx, serving_root]
        env = dict(os.environ, KERAS_BACKEND="tensorflow")
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, json.dumps(args)],
            capture_output=True,
            text=True,
            env=env,
        )
    if done.returncode != 0:
        last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""
        kind, _, message = last.partition(": ")
        if kind.endswith(("ValueError", "ModelFileError", "FileNotFoundError")):
            raise ValueError(message)
        raise RuntimeError(f"Export under the TensorFlow backend failed: {last}")
    return json.loads(done.stdout.strip().splitlines()[-1])
