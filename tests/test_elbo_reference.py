"""The ELBO that `evaluate` reports equals an independent NumPy computation.

Each backend's tox env runs this against the same NumPy reference, so passing
on TensorFlow, JAX and PyTorch means the three agree with each other.
"""

import numpy as np
import pytest
from conftest import tiny_vae


def _reference_neg_elbo(weights, x, likelihood):
    (w1, b1, wm, bm, wv, bv), (w2, b2, w3, b3) = weights
    h = np.maximum(x.reshape(len(x), -1) @ w1 + b1, 0.0)
    mean, log_var = h @ wm + bm, h @ wv + bv
    # Posterior std exp(-15) ~ 3e-7: z equals the mean within float tolerance.
    logits = np.maximum(mean @ w2 + b2, 0.0) @ w3 + b3
    flat = x.reshape(len(x), -1)
    if likelihood == "bernoulli":
        log_px = np.sum(flat * logits - np.logaddexp(0.0, logits), axis=1)
    else:  # continuous_bernoulli
        log_c = np.log(np.abs(logits) / np.abs(np.tanh(logits / 2)))
        log_px = np.sum(flat * logits - np.logaddexp(0.0, logits) + log_c, axis=1)
    kl = 0.5 * np.sum(mean**2 + np.exp(log_var) - 1.0 - log_var, axis=1)
    return -np.mean(log_px), np.mean(kl)


@pytest.mark.parametrize("likelihood", ["bernoulli", "continuous_bernoulli"])
def test_evaluate_matches_the_numpy_elbo(images, likelihood):
    rng = np.random.default_rng(42)
    vae = tiny_vae(likelihood=likelihood)
    enc = [rng.normal(0, 0.3, w.shape) for w in vae.encoder.get_weights()]
    enc[4] = np.zeros_like(enc[4])  # log-variance kernel
    enc[5] = np.full_like(enc[5], -30.0)  # log-variance bias
    dec = [rng.normal(0, 0.3, w.shape) for w in vae.decoder.get_weights()]
    vae.encoder.set_weights(enc)
    vae.decoder.set_weights(dec)
    vae.compile()
    x = images[:64].astype("float64")
    reconstruction, kl = _reference_neg_elbo((enc, dec), x, likelihood)
    logs = vae.evaluate(images[:64], batch_size=64, return_dict=True, verbose=0)
    assert logs["reconstruction"] == pytest.approx(reconstruction, rel=1e-5)
    assert logs["kl"] == pytest.approx(kl, rel=1e-5)
    assert logs["loss"] == pytest.approx(reconstruction + kl, rel=1e-5)
