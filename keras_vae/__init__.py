"""keras_vae: variational autoencoders for Keras 3 (TensorFlow, JAX, PyTorch)."""

from keras_vae._compat import check_keras_version

check_keras_version()

from keras_vae import callbacks  # noqa: E402
from keras_vae import data  # noqa: E402
from keras_vae import evaluation  # noqa: E402
from keras_vae import export  # noqa: E402
from keras_vae import kl  # noqa: E402
from keras_vae import likelihoods  # noqa: E402
from keras_vae import plots  # noqa: E402
from keras_vae import safe_loading  # noqa: E402
from keras_vae import training  # noqa: E402
from keras_vae.architectures import build_vae  # noqa: E402
from keras_vae.model import VAE  # noqa: E402
from keras_vae.sampling import Sampling  # noqa: E402

__version__ = "0.1.0"

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
    "safe_loading",
    "training",
]
