import math

import keras
import numpy as np
import pytest
from conftest import gradient
from keras import ops

from keras_vae import likelihoods

LOGITS = [-40.0, -6.0, -0.3, -0.1, -0.05, -1e-4, 0.0, 1e-4, 0.0999, 0.1, 0.5, 6.0, 40.0]


def _np(x):
    return ops.convert_to_numpy(x)


def _log_density(likelihood, x, logit):
    """log p(x | logit) for each value of x, as float64."""
    x = np.asarray(x, "float32").reshape(-1, 1)
    logits = np.full_like(x, logit)
    return _np(likelihood.log_prob(x, logits)).astype("float64")


def test_bernoulli_matches_binary_cross_entropy_without_overflow():
    x = np.array([[0.0, 1.0, 0.3, 1.0, 0.0]], "float32")
    logits = np.array([[-100.0, 100.0, 0.7, -3.0, 2.0]], "float32")
    expected = np.sum(x * logits - np.logaddexp(0.0, logits.astype("float64")))
    got = _np(likelihoods.Bernoulli().log_prob(x, logits))
    np.testing.assert_allclose(got, [expected], rtol=1e-6)
    np.testing.assert_allclose(
        _np(likelihoods.Bernoulli().mean(logits)),
        1 / (1 + np.exp(-logits.astype("float64"))),
        rtol=1e-6,
        atol=1e-7,
    )


def test_gaussian_matches_the_normal_density_and_learns_sigma_if_asked():
    x = np.array([[0.2, 0.9, 0.5]], "float32")
    logits = np.array([[0.0, 2.0, -1.0]], "float32")
    mu = 1 / (1 + np.exp(-logits.astype("float64")))
    sigma = 0.1
    expected = np.sum(
        -0.5 * ((x - mu) / sigma) ** 2 - math.log(sigma) - 0.5 * math.log(2 * math.pi)
    )
    fixed = likelihoods.Gaussian(sigma=sigma, learn_sigma=False)
    np.testing.assert_allclose(_np(fixed.log_prob(x, logits)), [expected], rtol=1e-5)
    assert fixed.trainable_weights == []
    learned = likelihoods.Gaussian(sigma=sigma)
    assert len(learned.trainable_weights) == 1
    np.testing.assert_allclose(_np(learned.log_prob(x, logits)), [expected], rtol=1e-5)


@pytest.mark.parametrize("name", likelihoods.NAMES)
def test_log_prob_sums_each_image_over_its_pixels_and_channels(name):
    likelihood = likelihoods.get(name)
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(3, 4, 5, 2)).astype("float32")
    logits = rng.normal(size=(3, 4, 5, 2)).astype("float32")
    per_pixel = [
        _np(likelihood.log_prob(x[:, i, j, c, None], logits[:, i, j, c, None]))
        for i in range(4)
        for j in range(5)
        for c in range(2)
    ]
    got = _np(likelihood.log_prob(x, logits))
    assert got.shape == (3,)
    np.testing.assert_allclose(got, np.sum(per_pixel, axis=0), rtol=1e-5)
    # Images of unknown size (a symbolic input) keep their axes.
    symbolic = keras.Input((None, None, 2))
    assert likelihood.log_prob(symbolic, symbolic).shape == (None,)


@pytest.mark.parametrize("logit", LOGITS)
def test_continuous_bernoulli_density_integrates_to_one(logit):
    x = np.linspace(0.0, 1.0, 200_001)
    density = np.exp(_log_density(likelihoods.ContinuousBernoulli(), x, logit))
    assert abs(np.trapezoid(density, x) - 1.0) < 1e-4


@pytest.mark.parametrize("logit", LOGITS)
def test_continuous_bernoulli_mean_is_the_density_mean(logit):
    x = np.linspace(0.0, 1.0, 200_001)
    density = np.exp(_log_density(likelihoods.ContinuousBernoulli(), x, logit))
    expected = np.trapezoid(x * density, x) / np.trapezoid(density, x)
    got = float(
        _np(likelihoods.ContinuousBernoulli().mean(np.float32([[logit]])))[0, 0]
    )
    assert abs(got - expected) < 1e-5


def test_continuous_bernoulli_normalizer_is_log_2_at_one_half_and_symmetric():
    values = _np(
        likelihoods.ContinuousBernoulli().log_normalizer(
            np.float32([0.0, 0.0999, 0.1, -0.0999, -0.1, 3.0, -3.0])
        )
    )
    assert values[0] == pytest.approx(math.log(2.0), abs=1e-7)
    np.testing.assert_allclose(values[[1, 2, 5]], values[[3, 4, 6]], rtol=1e-6)
    # Continuous across the switch to the series.
    assert abs(values[1] - values[2]) < 1e-4


@pytest.mark.parametrize(
    "likelihood", ["bernoulli", "gaussian", "continuous_bernoulli"]
)
def test_gradients_are_finite_at_zero_and_extreme_logits(likelihood):
    target = np.float32([[0.5, 0.2, 0.9, 1.0, 0.0]])
    dist = likelihoods.get(likelihood)
    grad = gradient(
        lambda v: dist.log_prob(target, v), [[0.0, 1e-6, -1e-6, 50.0, -50.0]]
    )
    assert np.isfinite(grad).all()
    assert np.abs(grad).max() > 0


def test_get_accepts_names_configs_and_instances():
    assert isinstance(likelihoods.get("bernoulli"), likelihoods.Bernoulli)
    assert isinstance(
        likelihoods.get("continuous_bernoulli"), likelihoods.ContinuousBernoulli
    )
    gaussian = likelihoods.Gaussian(sigma=0.3, learn_sigma=False)
    assert likelihoods.get(gaussian) is gaussian
    revived = likelihoods.get(keras.saving.serialize_keras_object(gaussian))
    assert revived.get_config() == gaussian.get_config()


def test_unknown_likelihood_lists_the_choices():
    with pytest.raises(
        ValueError,
        match=r"\['bernoulli', 'gaussian', "
        r"'continuous_bernoulli'\].*Received: likelihood='poisson'",
    ):
        likelihoods.get("poisson")
    with pytest.raises(ValueError, match="Received: likelihood=3"):
        likelihoods.get(3)


@pytest.mark.parametrize(
    "kwargs", [{"sigma": 0.0}, {"sigma": -1.0}, {"min_sigma": 0.0}, {"sigma": 1e-4}]
)
def test_gaussian_rejects_bad_sigmas(kwargs):
    with pytest.raises(ValueError, match="sigma"):
        likelihoods.Gaussian(**kwargs)
