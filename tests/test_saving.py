import json
import os

import keras
import numpy as np
import pytest
from conftest import dataset
from conftest import tiny_vae

import keras_vae

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")

CASES = [
    ("mlp", "bernoulli", (8, 8, 1)),
    ("conv", "gaussian", (8, 8, 1)),
    ("dcgan", "continuous_bernoulli", (8, 8, 3)),
]


def _as_stored(config):
    """A config as a .keras file stores it (JSON: tuples become lists)."""
    return json.loads(json.dumps(config))


def _reload(vae, tmp_path):
    path = str(tmp_path / "vae.keras")
    vae.save(path)
    return keras.saving.load_model(path, safe_mode=True)


@pytest.mark.parametrize("arch, likelihood, shape", CASES)
def test_keras_round_trip_keeps_encode_and_decode(arch, likelihood, shape, tmp_path):
    vae = tiny_vae(arch, input_shape=shape, likelihood=likelihood, seed=5)
    vae.compile()
    rng = np.random.default_rng(0)
    x = rng.random((32, *shape)).astype("float32")
    vae.fit(dataset(x, 16), epochs=1, verbose=0)  # moves BatchNorm statistics too
    loaded = _reload(vae, tmp_path)
    assert type(loaded) is keras_vae.VAE
    assert type(loaded.likelihood) is type(vae.likelihood)
    mean, log_var = vae.encode(x)
    loaded_mean, loaded_log_var = loaded.encode(x)
    np.testing.assert_allclose(loaded_mean, mean, atol=1e-6)
    np.testing.assert_allclose(loaded_log_var, log_var, atol=1e-6)
    np.testing.assert_allclose(loaded.decode(mean), vae.decode(mean), atol=1e-6)
    np.testing.assert_allclose(
        loaded.sample(3, seed=2), vae.sample(3, seed=2), atol=1e-6
    )
    assert _as_stored(loaded.get_config()) == _as_stored(vae.get_config())


def test_reload_restores_training_state(tmp_path, images):
    vae = tiny_vae(likelihood="gaussian", beta=2.0)
    vae.compile(optimizer=keras.optimizers.Adam(3e-3))
    vae.fit(dataset(images), epochs=1, verbose=0)
    vae.kl_weight.assign(0.25)
    loaded = _reload(vae, tmp_path)
    assert isinstance(loaded.optimizer, keras.optimizers.Adam)
    assert float(loaded.optimizer.learning_rate) == pytest.approx(3e-3)
    assert int(loaded.optimizer.iterations) == int(vae.optimizer.iterations) == 8
    assert float(keras.ops.convert_to_numpy(loaded.kl_weight)) == 0.25
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded.likelihood.log_sigma),
        keras.ops.convert_to_numpy(vae.likelihood.log_sigma),
    )
    assert loaded.beta == 2.0
    # Adam's moments came back, not just the weights.
    moments = [v for v in vae.optimizer.variables if "momentum" in v.path]
    assert moments
    for original, restored in zip(
        vae.optimizer.variables, loaded.optimizer.variables, strict=True
    ):
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(restored), keras.ops.convert_to_numpy(original)
        )


def test_config_round_trip():
    vae = tiny_vae(
        "conv", likelihood="continuous_bernoulli", beta=3.0, free_bits=0.5, seed=9
    )
    revived = keras_vae.VAE.from_config(vae.get_config())
    assert revived.get_config() == vae.get_config()
    assert (revived.beta, revived.free_bits, revived.seed) == (3.0, 0.5, 9)


def test_encoder_and_decoder_save_and_load_alone(tmp_path):
    vae = tiny_vae("conv")
    for part in (vae.encoder, vae.decoder):
        path = str(tmp_path / f"{part.name}.keras")
        part.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
        x = (
            np.random.default_rng(0)
            .random((2, *part.input_shape[1:]))
            .astype("float32")
        )
        for got, want in zip(
            keras.tree.flatten(loaded(x)), keras.tree.flatten(part(x)), strict=True
        ):
            np.testing.assert_allclose(
                keras.ops.convert_to_numpy(got),
                keras.ops.convert_to_numpy(want),
                atol=1e-6,
            )


def test_files_saved_by_keras_vae_0_1_still_load():
    """The registered names and configs are a contract with saved files."""
    expected = np.load(os.path.join(FIXTURES, "vae_conv_v1.npz"), allow_pickle=False)
    vae = keras.saving.load_model(
        os.path.join(FIXTURES, "vae_conv_v1.keras"), safe_mode=True
    )
    assert isinstance(vae, keras_vae.VAE)
    assert isinstance(vae.likelihood, keras_vae.likelihoods.Gaussian)
    assert (vae.beta, vae.seed, vae.latent_dim) == (0.5, 3, 2)
    mean, log_var = vae.encode(expected["x"])
    np.testing.assert_allclose(mean, expected["mean"], atol=1e-5)
    np.testing.assert_allclose(log_var, expected["log_var"], atol=1e-5)
    np.testing.assert_allclose(vae.decode(mean), expected["decoded"], atol=1e-5)
