"""Every data source feeds `fit` on the current backend."""

import numpy as np
import pytest
import tensorflow_datasets as tfds
from conftest import tiny_vae
from test_data_loading import make_folder
from test_data_loading import make_idx_dir
from test_data_loading import needs_fashion_mnist

from keras_vae import data


def _fit_one_step(vae, ds):
    vae.compile()
    history = vae.fit(ds, epochs=1, steps_per_epoch=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def _npz(tmp_path):
    path = str(tmp_path / "x.npz")
    x = np.random.default_rng(0).random((16, 8, 8, 1)).astype("float32")
    np.savez(path, x=x, y=np.arange(16))
    return f"npz:{path}"


SOURCES = {
    "idx": lambda tmp: f"idx:{make_idx_dir(tmp / 'idx')}",
    "npz": _npz,
    "folder": lambda tmp: f"folder:{make_folder(tmp / 'pets')}",
}


@pytest.mark.parametrize("source", sorted(SOURCES))
@pytest.mark.parametrize("binarize", [None, "dynamic"])
def test_local_sources_feed_fit(tmp_path, source, binarize):
    spec = SOURCES[source](tmp_path)
    ds = data.load(spec, batch_size=8, binarize=binarize, with_labels=True, seed=0)
    _fit_one_step(tiny_vae(), ds)


def test_tfds_source_feeds_fit():
    with tfds.testing.mock_data(num_examples=16):
        ds = data.load("tfds:mnist", batch_size=8, image_size=8)
        _fit_one_step(tiny_vae(), ds)


@needs_fashion_mnist
def test_real_fashion_mnist_feeds_fit(monkeypatch):
    monkeypatch.delenv("KERAS_VAE_DATA_DIR", raising=False)
    ds = data.load("fashion_mnist", batch_size=32, max_examples=64, binarize="dynamic")
    _fit_one_step(tiny_vae(input_shape=(28, 28, 1)), ds)
