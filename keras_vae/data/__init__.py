"""Data in: tf.data pipelines of unlabelled (or labelled) images in [0, 1]
(`load`), and batches held on the accelerator (`DeviceBatches`).

`load` is imported on first use: it pulls in TensorFlow, which
`DeviceBatches`, `read_idx` and `DataError` do not need (JAX or PyTorch
machines without TensorFlow can use them)."""

from keras_vae.data.errors import DataError
from keras_vae.data.idx import read_idx
from keras_vae.data.on_device import DeviceBatches


def __getattr__(name):
    if name == "load":
        from keras_vae.data.loading import load

        return load
    raise AttributeError(f"module 'keras_vae.data' has no attribute {name!r}")


__all__ = ["DataError", "DeviceBatches", "load", "read_idx"]
