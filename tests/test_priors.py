import math
import statistics

import keras
import numpy as np
import pytest
from conftest import tiny_vae
from keras import ops

from keras_vae import evaluation
from keras_vae import kl as kl_lib
from keras_vae import priors

RNG = np.random.default_rng(0)


def _numpy_mixture_log_prob(z, means, log_vars):
    """The direct form: a [batch, K, latent] table, then log-sum-exp over K."""
    z, means, log_vars = (np.asarray(a, "float64") for a in (z, means, log_vars))
    diff = z[:, None, :] - means[None]
    per = -0.5 * (math.log(2 * math.pi) + log_vars[None] + diff**2 / np.exp(log_vars))
    per = per.sum(-1)
    top = per.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(per - top).sum(axis=1))
    return lse - math.log(means.shape[0])


def test_mixture_log_prob_matches_the_direct_form():
    z = RNG.normal(size=(7, 5)).astype("float32")
    means = RNG.normal(size=(4, 5)).astype("float32") * 2
    # Posterior-like variances: from 0.002 to 2.7.
    log_vars = RNG.uniform(-6, 1, size=(4, 5)).astype("float32")
    got = ops.convert_to_numpy(priors.mixture_log_prob(z, means, log_vars))
    want = _numpy_mixture_log_prob(z, means, log_vars)
    assert got.shape == (7,)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)


def test_standard_normal_is_the_one_component_zero_mixture():
    z = RNG.normal(size=(6, 3)).astype("float32")
    prior = priors.StandardNormal()
    want = -0.5 * (math.log(2 * math.pi) + z.astype("float64") ** 2).sum(-1)
    np.testing.assert_allclose(ops.convert_to_numpy(prior.log_prob(z)), want, 1e-5)
    means, log_vars = prior.components(None, 3)
    assert tuple(means.shape) == (1, 3) and tuple(log_vars.shape) == (1, 3)
    mixture = priors.mixture_log_prob(z, means, log_vars)
    np.testing.assert_allclose(ops.convert_to_numpy(mixture), want, rtol=1e-5)
    assert prior.analytic_kl and not priors.VampPrior(3).analytic_kl


def test_kl_estimate_averages_to_the_closed_form():
    """With p = N(0, I) as a one-component mixture, the mean of the one-sample
    estimate over many draws of z is the analytic KL."""
    mean = np.array([[0.5, -1.0, 0.0]], "float32")
    log_var = np.array([[-1.0, 0.3, -2.0]], "float32")
    draws = 20000
    means = np.repeat(mean, draws, 0)
    log_vars = np.repeat(log_var, draws, 0)
    eps = RNG.normal(size=means.shape).astype("float32")
    z = means + np.exp(0.5 * log_vars) * eps
    zeros = np.zeros((1, 3), "float32")
    estimate = ops.convert_to_numpy(
        kl_lib.kl_estimate(z, means, log_vars, zeros, zeros)
    )
    closed = float(ops.convert_to_numpy(kl_lib.kl_per_example(mean, log_var))[0])
    # The estimate's spread is about 1.5 nats here: 0.011 standard error.
    assert abs(estimate.mean() - closed) < 0.05
    # A prior equal to the posterior: the estimate is 0 at every z.
    same = kl_lib.kl_estimate(z[:5], means[:5], log_vars[:5], mean, log_var)
    np.testing.assert_allclose(ops.convert_to_numpy(same), 0.0, atol=1e-4)


def test_vamp_prior_components_and_samples():
    vae = tiny_vae("mlp", prior=priors.VampPrior(6))
    pseudo = vae.prior.pseudo_inputs
    assert tuple(pseudo.shape) == (6, 8, 8, 1)
    assert any(w is pseudo for w in vae.trainable_weights)
    means, log_vars = vae.prior_components()
    want_means, want_log_vars = vae.encode(np.clip(ops.convert_to_numpy(pseudo), 0, 1))
    np.testing.assert_allclose(means, want_means, atol=1e-5)
    np.testing.assert_allclose(log_vars, want_log_vars, atol=1e-5)
    z = ops.convert_to_numpy(vae.prior.sample(4000, vae.encoder, 3, seed=1))
    again = ops.convert_to_numpy(vae.prior.sample(4000, vae.encoder, 3, seed=1))
    np.testing.assert_array_equal(z, again)
    # A uniform mixture: the samples' mean is the components' mean.
    spread = np.sqrt(np.exp(log_vars).mean(0) + means.var(0))
    assert np.all(np.abs(z.mean(0) - means.mean(0)) < 4 * spread / np.sqrt(4000))
    assert vae.sample(2, seed=0).shape == (2, 8, 8, 1)


def test_vamp_prior_config_round_trip_and_errors():
    prior = priors.VampPrior(7, pseudo_input_mean=0.3, pseudo_input_stddev=0.1)
    again = priors.get(keras.saving.serialize_keras_object(prior))
    assert isinstance(again, priors.VampPrior)
    assert (again.num_components, again.pseudo_input_mean) == (7, 0.3)
    assert again.pseudo_input_stddev == 0.1
    assert isinstance(priors.get("vamp"), priors.VampPrior)
    assert priors.get("vamp").num_components == 500
    with pytest.raises(ValueError, match="num_components` must be a positive int"):
        priors.VampPrior(0)
    with pytest.raises(ValueError, match="pseudo_input_stddev` must be >= 0"):
        priors.VampPrior(3, pseudo_input_stddev=-1.0)
    with pytest.raises(ValueError, match=r"Unknown prior.*Received: prior='flow'"):
        priors.get("flow")
    with pytest.raises(ValueError, match="free_bits` needs the standard-normal"):
        tiny_vae("mlp", prior="vamp", free_bits=0.1)


def test_fit_trains_the_pseudo_inputs_and_reports_the_estimated_kl(images):
    vae = tiny_vae("mlp", prior=priors.VampPrior(5), seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    before = ops.convert_to_numpy(vae.prior.pseudo_inputs).copy()
    history = vae.fit(images, batch_size=32, epochs=2, verbose=0).history
    after = ops.convert_to_numpy(vae.prior.pseudo_inputs)
    assert np.abs(after - before).max() > 1e-3
    for name in ("loss", "reconstruction", "kl"):
        assert np.isfinite(history[name]).all()
    np.testing.assert_allclose(
        history["loss"][-1],
        history["reconstruction"][-1] + history["kl"][-1],
        rtol=1e-4,
    )


@pytest.mark.parametrize("arch", ["conv", "dcgan"])
def test_vamp_prior_trains_with_conv_encoders(images, arch):
    vae = tiny_vae(arch, prior=priors.VampPrior(4), seed=0)
    vae.compile()
    history = vae.fit(images[:64], batch_size=32, epochs=1, verbose=0).history
    assert np.isfinite(history["loss"]).all()


def test_iwae_uses_the_models_prior(images):
    """The one-sample IWAE bound is the ELBO: its mean over the data matches
    `evaluate`'s estimate only if both use the VampPrior's log p(z)."""
    vae = tiny_vae("mlp", prior=priors.VampPrior(5), seed=0)
    vae.compile(optimizer=keras.optimizers.Adam(1e-2))
    vae.fit(images, batch_size=32, epochs=3, verbose=0)
    x = np.concatenate([images] * 4)
    result = evaluation.evaluate(vae, [x], iwae_samples=0, seed=1)
    assert result["kl_per_dim"] is None
    one_sample = evaluation.iwae_log_likelihood(vae, x, samples=1, chunk=1)
    assert abs(-one_sample.mean() - result["neg_elbo"]) < 0.5
    # Under N(0, I) instead, the same codes score far from that.
    means, log_vars = vae.encode(x)
    z = means + np.exp(0.5 * log_vars) * RNG.normal(size=means.shape)
    vamp = ops.convert_to_numpy(vae.prior.log_prob(z, vae.encoder))
    standard = ops.convert_to_numpy(priors.StandardNormal().log_prob(z))
    assert abs(vamp.mean() - standard.mean()) > 2.0
    best = evaluation.evaluate(vae, [images], iwae_samples=50)
    assert best["iwae_nll"] < best["neg_elbo"]


def test_save_and_load_keep_the_prior(tmp_path, images):
    vae = tiny_vae("mlp", prior=priors.VampPrior(5), seed=0)
    vae.compile()
    vae.fit(images[:64], batch_size=32, epochs=1, verbose=0)
    path = str(tmp_path / "vamp.keras")
    vae.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded.prior, priors.VampPrior)
    assert loaded.prior.num_components == 5
    np.testing.assert_array_equal(
        ops.convert_to_numpy(loaded.prior.pseudo_inputs),
        ops.convert_to_numpy(vae.prior.pseudo_inputs),
    )
    for got, want in zip(
        loaded.prior_components(), vae.prior_components(), strict=True
    ):
        np.testing.assert_allclose(got, want, atol=1e-6)


def test_configs_without_a_prior_load_with_the_standard_normal():
    vae = tiny_vae("mlp")
    config = vae.get_config()
    assert config["prior"]["class_name"] == "StandardNormal"
    del config["prior"]  # as in files saved before priors existed
    again = type(vae).from_config(config)
    assert isinstance(again.prior, priors.StandardNormal)


def test_marginal_quantiles_of_the_standard_normal():
    probs = np.array([0.001, 0.05, 0.3, 0.5, 0.95])
    got = priors.marginal_quantiles(np.zeros((1, 2)), np.zeros((1, 2)), probs)
    want = [statistics.NormalDist().inv_cdf(p) for p in probs]
    assert got.shape == (5, 2)
    np.testing.assert_allclose(got, np.stack([want, want], axis=1), atol=1e-9)


def test_marginal_quantiles_of_a_mixture_invert_its_cdf():
    # Dimension 0: modes at -2 and +2 (symmetric, so the median is 0);
    # dimension 1: a narrow and a wide component, off centre.
    means = np.array([[-2.0, 1.0], [2.0, 4.0]])
    log_vars = np.log(np.array([[1.0, 0.01], [1.0, 9.0]]))
    probs = np.array([0.05, 0.25, 0.5, 0.75, 0.95])
    got = priors.marginal_quantiles(means, log_vars, probs)
    stds = np.exp(0.5 * log_vars)
    components = [
        [statistics.NormalDist(m, s) for m, s in zip(mk, sk, strict=True)]
        for mk, sk in zip(means, stds, strict=True)
    ]
    for d in range(2):
        cdf = [np.mean([c[d].cdf(q) for c in components]) for q in got[:, d]]
        np.testing.assert_allclose(cdf, probs, atol=1e-9)
    assert abs(got[2, 0]) < 1e-9
    # The 25% quantile of dimension 1 lies inside the narrow component.
    assert 0.9 < got[1, 1] < 1.1


@pytest.mark.parametrize(
    "means, log_vars, probs, match",
    [
        (np.zeros((2,)), np.zeros((2,)), [0.5], "num_components, latent_dim"),
        (np.zeros((1, 2)), np.zeros((1, 3)), [0.5], "shapes"),
        (np.zeros((1, 2)), np.zeros((1, 2)), [0.0, 0.5], r"values in \(0, 1\)"),
    ],
)
def test_marginal_quantiles_rejects_bad_input(means, log_vars, probs, match):
    with pytest.raises(ValueError, match=match):
        priors.marginal_quantiles(means, log_vars, probs)
