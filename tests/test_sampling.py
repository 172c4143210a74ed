import keras
import numpy as np
import pytest
from keras import ops

import keras_vae


def test_deterministic_path_returns_the_mean():
    mean = np.arange(6, dtype="float32").reshape(3, 2)
    log_var = np.zeros((3, 2), "float32")
    layer = keras_vae.Sampling(seed=1)
    for kwargs in ({}, {"training": False}, {"sample": False}):
        out = ops.convert_to_numpy(layer([mean, log_var], **kwargs))
        np.testing.assert_array_equal(out, mean)


def test_samples_in_training_or_when_asked_with_the_right_moments():
    n = 20000
    mean = np.tile(np.array([[1.0, -2.0]], "float32"), (n, 1))
    log_var = np.tile(np.log(np.array([[4.0, 0.25]], "float32")), (n, 1))
    layer = keras_vae.Sampling(seed=3)
    for kwargs in ({"training": True}, {"sample": True}):
        z = ops.convert_to_numpy(layer([mean, log_var], **kwargs))
        np.testing.assert_allclose(z.mean(axis=0), [1.0, -2.0], atol=0.05)
        np.testing.assert_allclose(z.std(axis=0), [2.0, 0.5], rtol=0.03)


def test_seed_makes_draws_reproducible_and_config_round_trips():
    mean = np.zeros((4, 3), "float32")
    log_var = np.zeros((4, 3), "float32")
    first = keras_vae.Sampling(seed=7)
    second = keras_vae.Sampling.from_config(first.get_config())
    assert second.get_config() == first.get_config()
    assert first.get_config()["seed"] == 7
    a = ops.convert_to_numpy(first([mean, log_var], sample=True))
    b = ops.convert_to_numpy(second([mean, log_var], sample=True))
    np.testing.assert_array_equal(a, b)
    # The generator advances: a second draw differs from the first.
    c = ops.convert_to_numpy(first([mean, log_var], sample=True))
    assert not np.allclose(a, c)


def test_huge_log_variance_is_clipped_and_stays_finite():
    z = keras_vae.Sampling(seed=0)(
        [np.zeros((2, 2), "float32"), np.full((2, 2), 1e4, "float32")], sample=True
    )
    assert np.isfinite(ops.convert_to_numpy(z)).all()


def test_runs_in_float32_under_a_mixed_policy():
    keras.config.set_dtype_policy("mixed_bfloat16")
    layer = keras_vae.Sampling(seed=0)
    assert layer.compute_dtype == "float32"
    z = layer([np.zeros((2, 2), "float32"), np.zeros((2, 2), "float32")], sample=True)
    assert keras.backend.standardize_dtype(z.dtype) == "float32"


def test_bad_seed_is_refused():
    with pytest.raises(ValueError, match="seed.*Received: seed='abc'"):
        keras_vae.Sampling(seed="abc")
