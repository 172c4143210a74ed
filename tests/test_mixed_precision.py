import keras
import numpy as np
import pytest
from conftest import dataset
from conftest import tiny_vae
from keras import backend


def _dtype(x):
    return backend.standardize_dtype(x.dtype)


@pytest.mark.parametrize(
    "arch, prior",
    [
        ("mlp", "standard_normal"),
        ("conv", "standard_normal"),
        ("dcgan", "standard_normal"),
        ("mlp", "vamp"),
    ],
)
def test_mixed_bfloat16_trains_without_nan_and_keeps_float32_islands(
    arch, prior, images
):
    keras.config.set_dtype_policy("mixed_bfloat16")
    vae = tiny_vae(arch, input_shape=(8, 8, 1), prior=prior)
    hidden = [
        layer
        for layer in vae.encoder.layers + vae.decoder.layers
        if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D))
        and layer.name not in ("z_mean", "z_log_var", "logits")
    ]
    assert hidden and all(x.compute_dtype == "bfloat16" for x in hidden)
    vae.compile()
    history = vae.fit(dataset(images), epochs=2, verbose=0)
    for values in history.history.values():
        assert np.isfinite(values).all()
    outputs = vae(images[:4])
    assert {k: _dtype(v) for k, v in outputs.items()} == {
        "logits": "float32",
        "z_mean": "float32",
        "z_log_var": "float32",
        "kl": "float32",
    }
    assert vae.prior.compute_dtype == "float32"
    assert vae.sampling.compute_dtype == "float32"
    assert vae.likelihood.compute_dtype == "float32"
    loss = vae.compute_loss(images[:4], None, outputs)
    assert _dtype(loss) == "float32"
    assert _dtype(vae.likelihood.log_prob(images[:4], outputs["logits"])) == "float32"


def test_mixed_float16_compiles_with_loss_scaling_and_trains(images):
    keras.config.set_dtype_policy("mixed_float16")
    vae = tiny_vae()
    vae.compile()
    assert isinstance(vae.optimizer, keras.optimizers.LossScaleOptimizer)
    before = [np.array(w) for w in vae.get_weights()]
    history = vae.fit(dataset(images), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    after = vae.get_weights()
    moved = [np.abs(a - b).max() for a, b in zip(after, before, strict=True)]
    # Gradients un-scaled correctly: Adam steps of about the learning rate, not
    # zero and not 2**15 times off.
    assert 1e-4 < max(moved) < 1.0
