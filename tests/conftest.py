"""Shared fixtures: tiny data, seeding, and a clean dtype policy per test."""

import importlib
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_vae


@pytest.fixture(autouse=True)
def _seed_and_policy():
    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture(scope="session")
def images():
    """256 binary 8x8x1 images with structure (random rectangles)."""
    rng = np.random.default_rng(0)
    x = np.zeros((256, 8, 8, 1), "float32")
    for i in range(len(x)):
        top, left = rng.integers(0, 5, size=2)
        height, width = rng.integers(2, 5, size=2)
        x[i, top : top + height, left : left + width, 0] = 1.0
    return x


def dataset(x, batch_size=32, labels=None):
    """A batched tf.data pipeline over `x` (and `labels`, if given)."""
    data = x if labels is None else (x, labels)
    return tf.data.Dataset.from_tensor_slices(data).batch(batch_size)


def device_epoch(batches):
    """One epoch of a `keras_vae.data.DeviceBatches`, begun and ended as `fit`
    does, as a list of NumPy batches."""
    batches.on_epoch_begin()
    out = [keras.ops.convert_to_numpy(batches[i][0]) for i in range(len(batches))]
    batches.on_epoch_end()
    return out


def tiny_vae(arch="mlp", input_shape=(8, 8, 1), latent_dim=3, **kwargs):
    """Small models of each architecture for fast tests."""
    options = {
        "mlp": {"hidden_units": (16,)},
        "conv": {"filters": (4, 8)},
        "dcgan": {"base_filters": 4, "num_blocks": 2},
    }[arch]
    options.update(kwargs)
    return keras_vae.build_vae(arch, input_shape, latent_dim, **options)


def gradient(fn, x):
    """d sum(fn(x)) / dx as NumPy, with the current backend's autodiff."""
    name = keras.backend.backend()
    x = np.asarray(x, "float32")
    if name == "tensorflow":
        variable = tf.Variable(x)
        with tf.GradientTape() as tape:
            total = tf.reduce_sum(fn(variable))
        return tape.gradient(total, variable).numpy()
    if name == "jax":
        import jax

        return np.asarray(jax.grad(lambda v: fn(v).sum())(x))
    import torch

    tensor = torch.tensor(x, requires_grad=True)
    fn(tensor).sum().backward()
    return tensor.grad.numpy()


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def import_benchmark(name):
    """A module of `benchmarks/` (a folder of scripts, not a package)."""
    folder = os.path.join(REPO, "benchmarks")
    sys.path.insert(0, folder)
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(folder)


def run_script(name, *args, cwd=REPO, timeout=600):
    """Runs `scripts/<name>` in a subprocess; returns the CompletedProcess."""
    return subprocess.run(
        [sys.executable, os.path.join(REPO, "scripts", name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
