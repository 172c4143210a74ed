import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import tiny_vae
from keras import ops

import keras_vae
from keras_vae import evaluation

# A hand-set model with a 1-D latent: the decoder makes all four pixels of a
# 2x2 image switch on together as z grows, and the encoder's q(z|x) is a
# sensible but imperfect proposal (mean = number of lit pixels - 2). Its exact
# log-likelihood is a 1-D integral that a grid computes to high precision.
PATTERNS = np.array(
    [[(i >> b) & 1 for b in range(4)] for i in range(16)], "float32"
).reshape(16, 2, 2, 1)
COUNTS = np.full(16, 64)
IMAGES = np.repeat(PATTERNS, COUNTS, axis=0)


@pytest.fixture(scope="module")
def tiny():
    images = keras.Input((2, 2, 1))
    flat = keras.layers.Flatten()(images)
    mean = keras.layers.Dense(1, name="z_mean")(flat)
    log_var = keras.layers.Dense(1, name="z_log_var")(flat)
    encoder = keras.Model(images, [mean, log_var])
    z = keras.Input((1,))
    logits = keras.layers.Reshape((2, 2, 1))(keras.layers.Dense(4)(z))
    decoder = keras.Model(z, logits)
    encoder.set_weights(
        [np.ones((4, 1)), np.array([-2.0]), np.zeros((4, 1)), np.array([math.log(0.5)])]
    )
    decoder.set_weights([np.full((1, 4), 2.5), np.zeros(4)])
    return keras_vae.VAE(encoder, decoder, seed=1)


def _exact_log_likelihood(vae, x):
    grid = np.linspace(-12, 12, 48001, dtype="float32")[:, None]
    logits = vae.decoder(grid, training=False)
    log_pz = -0.5 * (math.log(2 * math.pi) + grid[:, 0] ** 2)
    out = []
    for image in x:
        repeated = np.broadcast_to(image, (len(grid), *image.shape))
        log_px = ops.convert_to_numpy(vae.likelihood.log_prob(repeated, logits))
        terms = log_px.astype("float64") + log_pz
        top = terms.max()
        out.append(
            top + math.log(np.exp(terms - top).sum() * (grid[1, 0] - grid[0, 0]))
        )
    return np.array(out)


def _ds(x, batch=32):
    return tf.data.Dataset.from_tensor_slices(x).batch(batch)


def test_iwae_agrees_with_the_integrated_likelihood_and_tightens(tiny):
    exact_nll = -np.repeat(_exact_log_likelihood(tiny, PATTERNS), COUNTS).mean()
    results = {
        k: evaluation.evaluate(tiny, _ds(IMAGES), iwae_samples=k, seed=k)
        for k in (1, 10, 1000)
    }
    nll = {k: r["iwae_nll"] for k, r in results.items()}
    assert abs(nll[1000] - exact_nll) < 0.05, (nll, exact_nll)
    # A lower bound on log p(x): the NLL estimate never goes below the exact
    # value (beyond Monte Carlo noise) and tightens as K grows.
    assert min(nll.values()) > exact_nll - 0.02
    assert nll[1] > nll[10] > nll[1000]


def test_k1_equals_the_elbo_in_expectation(tiny):
    many = np.repeat(IMAGES, 20, axis=0)
    result = evaluation.evaluate(tiny, _ds(many, 256), iwae_samples=1, seed=7)
    assert result["iwae_nll"] == pytest.approx(result["neg_elbo"], abs=0.05)


def test_the_bound_is_the_formula_on_the_generators_noise(tiny):
    # The tiny model by hand, in NumPy: q(z|x) = N(lit - 2, 0.5), the decoder's
    # four logits are 2.5 z, p(z) = N(0, 1). Two chunks of 3 samples each.
    x = PATTERNS
    generator = keras.random.SeedGenerator(9)  # the draws the function will make
    eps = np.concatenate(
        [
            ops.convert_to_numpy(keras.random.normal((3, 16, 1), seed=generator))
            for _ in range(2)
        ]
    ).astype("float64")[..., 0]  # [6, 16]
    pixels = x.reshape(16, 4)
    mean = pixels.sum(axis=1) - 2.0
    z = mean + math.sqrt(0.5) * eps
    logits = 2.5 * z[..., None]  # [6, 16, 4]
    log_px = np.sum(pixels * logits - np.logaddexp(0.0, logits), axis=-1)
    log_pz = -0.5 * (math.log(2 * math.pi) + z**2)
    log_qz = -0.5 * (math.log(2 * math.pi) + math.log(0.5) + (z - mean) ** 2 / 0.5)
    log_w = log_px + log_pz - log_qz
    top = log_w.max(axis=0)
    expected = top + np.log(np.exp(log_w - top).mean(axis=0))
    got = evaluation.iwae_log_likelihood(
        tiny, x, 6, chunk=3, seed_generator=keras.random.SeedGenerator(9)
    )
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)


def test_chunking_does_not_change_the_estimate(tiny):
    x = IMAGES[:16]
    a = evaluation.iwae_log_likelihood(
        tiny, x, 64, chunk=64, seed_generator=keras.random.SeedGenerator(5)
    )
    b = evaluation.iwae_log_likelihood(
        tiny, x, 64, chunk=7, seed_generator=keras.random.SeedGenerator(5)
    )
    assert a.shape == b.shape == (16,)
    assert abs(a.mean() - b.mean()) < 0.05  # same estimator, other draws


def test_the_bound_refuses_zero_samples_or_chunks(tiny):
    with pytest.raises(ValueError, match="samples=0, chunk=100"):
        evaluation.iwae_log_likelihood(tiny, PATTERNS, 0)
    with pytest.raises(ValueError, match="samples=5, chunk=0"):
        evaluation.iwae_log_likelihood(tiny, PATTERNS, 5, chunk=0)


def test_report_fields(tiny):
    labels = np.arange(len(IMAGES)) % 3
    ds = tf.data.Dataset.from_tensor_slices((IMAGES, labels)).batch(50)
    result = evaluation.evaluate(tiny, ds, iwae_samples=5)
    assert result["examples"] == len(IMAGES)
    assert result["neg_elbo"] == pytest.approx(result["reconstruction"] + result["kl"])
    assert len(result["kl_per_dim"]) == 1
    assert result["kl"] == pytest.approx(sum(result["kl_per_dim"]))
    assert result["bits_per_dim"] == pytest.approx(
        result["iwae_nll"] / (4 * math.log(2))
    )
    assert result["active_units"] in (0, 1)
    with pytest.raises(ValueError, match="at least one image"):
        evaluation.evaluate(
            tiny, tf.data.Dataset.from_tensor_slices(IMAGES[:0]).batch(4)
        )


def test_a_seed_makes_the_whole_report_reproducible(tiny):
    first = evaluation.evaluate(tiny, _ds(IMAGES), iwae_samples=3, seed=11)
    assert evaluation.evaluate(tiny, _ds(IMAGES), iwae_samples=3, seed=11) == first
    assert evaluation.evaluate(tiny, _ds(IMAGES), iwae_samples=3, seed=12) != first


def test_active_units_count_dimensions_whose_mean_varies():
    vae = keras_vae.build_vae("mlp", (2, 2, 1), 3, hidden_units=(4,))
    weights = vae.encoder.get_weights()
    # z_mean kernel: only dimension 0 depends on the input.
    weights[2] = np.zeros_like(weights[2])
    weights[2][:, 0] = 5.0
    weights[0] = np.abs(weights[0]) + 0.5
    vae.encoder.set_weights(weights)
    result = evaluation.evaluate(vae, _ds(IMAGES))
    assert result["active_units"] == 1


def test_evaluating_leaves_the_model_as_it_was(tmp_path):
    # The bound runs inside a wrapper Model (Keras's compiled predict); the
    # model it wraps must come out unchanged and still save, reload and train.
    vae = tiny_vae()
    x = (np.random.default_rng(0).uniform(size=(40, 8, 8, 1)) < 0.5).astype("float32")
    vae(x[:1])
    before = vae.get_weights()
    # Batches of 16, 16 and 8; chunks of 3 and 1 samples.
    result = evaluation.evaluate(vae, _ds(x, 16), iwae_samples=4, iwae_chunk=3)
    assert result["examples"] == 40 and np.isfinite(result["iwae_nll"])
    for old, new in zip(before, vae.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)
    path = str(tmp_path / "vae.keras")
    vae.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    z = np.linspace(-1, 1, 6, dtype="float32").reshape(2, 3)
    np.testing.assert_allclose(loaded.decode(z), vae.decode(z), rtol=1e-6)
    vae.compile()
    history = vae.fit(x, batch_size=20, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
