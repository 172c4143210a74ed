"""Tiny data and configs for the training tests."""

import os

import numpy as np

from keras_vae.training import TrainConfig


def tiny_npz(folder, n_train=96, n_test=32):
    rng = np.random.default_rng(0)
    path = os.path.join(folder, "tiny.npz")
    x = (rng.random((n_train + n_test, 8, 8, 1)) > 0.6).astype("float32")
    np.savez(path, x_train=x[:n_train], x_test=x[n_train:])
    return path


def tiny_config(tmp_path, **overrides):
    values = {
        "workdir": str(tmp_path / "run"),
        "dataset": f"npz:{tiny_npz(str(tmp_path))}",
        "arch": "mlp",
        "hidden_units": (16,),
        "latent_dim": 3,
        "epochs": 2,
        "batch_size": 32,
        "validation_fraction": 0.25,
        "verbose": 0,
        "export_dir": None,
    }
    values.update(overrides)
    return TrainConfig(**values)


def files_under(root):
    return sorted(
        os.path.relpath(os.path.join(d, f), root)
        for d, _, names in os.walk(root)
        for f in names
    )
