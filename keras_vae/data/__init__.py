"""Data in: tf.data pipelines of unlabelled (or labelled) images in [0, 1]."""

from keras_vae.data.errors import DataError
from keras_vae.data.idx import read_idx
from keras_vae.data.loading import load

__all__ = ["DataError", "load", "read_idx"]
