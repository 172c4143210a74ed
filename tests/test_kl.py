import math

import keras
import numpy as np
from keras import ops

from keras_vae import kl


def _np(x):
    return ops.convert_to_numpy(x)


def test_matches_the_closed_form_on_fixed_inputs():
    mean = np.array([[0.0, 1.0, 0.0, -2.0]], "float32")
    log_var = np.array([[0.0, 0.0, math.log(4.0), math.log(0.5)]], "float32")
    expected = [
        0.0,  # N(0, 1) against itself
        0.5,  # mean 1: 0.5 * 1
        0.5 * (4.0 - 1.0 - math.log(4.0)),
        0.5 * (4.0 + 0.5 - 1.0 - math.log(0.5)),
    ]
    np.testing.assert_allclose(
        _np(kl.gaussian_kl(mean, log_var))[0], expected, rtol=1e-6
    )
    np.testing.assert_allclose(
        _np(kl.kl_per_example(mean, log_var)), [sum(expected)], rtol=1e-6
    )


def test_agrees_with_a_monte_carlo_estimate():
    rng = np.random.default_rng(0)
    mean, std = 0.7, 1.6
    z = rng.normal(mean, std, size=2_000_000)
    log_q = -0.5 * ((z - mean) / std) ** 2 - math.log(std)
    log_p = -0.5 * z**2
    estimate = float(np.mean(log_q - log_p))
    exact = float(_np(kl.gaussian_kl([[mean]], [[2 * math.log(std)]]))[0, 0])
    assert abs(estimate - exact) < 5e-3


def test_objective_is_the_batch_mean_and_free_bits_raise_each_dimension():
    mean = np.array([[1.0, 0.0], [3.0, 0.0]], "float32")
    log_var = np.zeros((2, 2), "float32")
    # Per-example KL: 0.5 and 4.5 on dim 0, 0 on dim 1.
    assert float(_np(kl.kl_objective(mean, log_var))) == 2.5
    # Free bits of 1 nat: dim 0 (batch mean 2.5) stays, dim 1 rises to 1.
    assert float(_np(kl.kl_objective(mean, log_var, free_bits=1.0))) == 3.5


def test_is_float32_for_low_precision_inputs():
    mean = ops.cast(np.ones((2, 2)), "bfloat16")
    value = kl.gaussian_kl(mean, ops.cast(np.zeros((2, 2)), "float16"))
    assert keras.backend.standardize_dtype(value.dtype) == "float32"


def test_extreme_log_variance_is_clipped_to_a_finite_kl():
    value = _np(kl.gaussian_kl([[0.0, 0.0]], [[1e4, -1e4]]))
    assert np.isfinite(value).all()
