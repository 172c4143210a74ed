"""README.md's "Using it" example, run as written on each backend.

Only the data is smaller: `KERAS_VAE_DATA_DIR` points "fashion_mnist" at 700
generated 28x28 IDX images, so nothing is downloaded and ten epochs take
seconds. A README edit that breaks the example fails here.
"""

import os
import re

import keras
import numpy as np
from test_data_idx import write_idx

README = os.path.join(os.path.dirname(__file__), os.pardir, "README.md")


def _example():
    with open(README, encoding="utf-8") as f:
        text = f.read()
    section = text.split("## Using it", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README.md's 'Using it' section has no python block"
    return match.group(1)


def _fashion_mnist_like(root):
    rng = np.random.default_rng(0)
    folder = os.path.join(root, "fashion_mnist")
    os.makedirs(folder)
    for prefix, n in (("train", 600), ("t10k", 100)):
        images = np.zeros((n, 28, 28), "uint8")
        for i in range(n):  # a bright rectangle per image
            top, left = rng.integers(0, 18, size=2)
            images[i, top : top + 10, left : left + 8] = 255
        write_idx(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz"), images)


def test_the_readme_example_trains_saves_and_reloads(tmp_path, monkeypatch):
    _fashion_mnist_like(tmp_path / "data")
    monkeypatch.setenv("KERAS_VAE_DATA_DIR", str(tmp_path / "data"))
    # The example sets KERAS_BACKEND for a fresh process; here Keras is
    # already loaded, and monkeypatch restores the variable afterwards.
    monkeypatch.setenv("KERAS_BACKEND", keras.backend.backend())
    monkeypatch.chdir(tmp_path)

    scope = {}
    exec(compile(_example(), "README.md", "exec"), scope)  # noqa: S102

    vae, x = scope["vae"], scope["x"]
    assert x.shape == (8, 28, 28, 1)
    assert scope["mean"].shape == (8, 20) and scope["log_var"].shape == (8, 20)
    for name in ("images", "recon"):
        assert scope[name].shape == (8, 28, 28, 1), name
        assert np.all((scope[name] >= 0) & (scope[name] <= 1)), name
    assert scope["samples"].shape == (64, 28, 28, 1)
    assert os.path.isfile(tmp_path / "vae.keras")
    # `vae` is the reloaded model: it encodes as the trained one did.
    np.testing.assert_allclose(vae.encode(x)[0], scope["mean"], atol=1e-5)
    # Ten epochs on rectangles learn something: the ELBO beats an untrained
    # model's by far (784 ln 2 = 543 nats for zero logits; 143 after training on JAX).
    logs = vae.evaluate(scope["val_ds"], return_dict=True, verbose=0)
    assert logs["reconstruction"] + logs["kl"] < 300
