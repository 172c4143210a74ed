"""keras_vae: variational autoencoders for Keras 3 (TensorFlow, JAX, PyTorch)."""

from keras_vae._compat import check_keras_version

check_keras_version()

import importlib  # noqa: E402

from keras_vae import callbacks  # noqa: E402
from keras_vae import kl  # noqa: E402
from keras_vae import likelihoods  # noqa: E402
from keras_vae import priors  # noqa: E402
from keras_vae import safe_loading  # noqa: E402
from keras_vae.architectures import build_vae  # noqa: E402
from keras_vae.model import VAE  # noqa: E402
from keras_vae.sampling import Sampling  # noqa: E402

__version__ = "0.1.0"

# Imported on first use: these pull in TensorFlow (tf.data, SavedModel) or
# matplotlib, which the model itself does not need on JAX or PyTorch.
_LAZY = ("data", "evaluation", "export", "plots", "training")


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f"keras_vae.{name}")
    raise AttributeError(f"module 'keras_vae' has no attribute {name!r}")


__all__ = [
    "VAE",
    "Sampling",
    "build_vae",
    "callbacks",
    "data",
    "evaluation",
    "export",
    "kl",
    "likelihoods",
    "plots",
    "priors",
    "safe_loading",
    "training",
]
