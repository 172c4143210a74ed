"""Likelihood numbers: ELBO, the importance-weighted bound, active units.

All quantities are in nats per example (bits per dimension aside). The IWAE
bound (Burda et al., 2016) with K samples,
`log p(x) >= E[log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x)]`, is computed for
a batch of images and a chunk of samples at a time, combining chunks with a
running log-sum-exp, so K = 1000 never holds more than `batch x chunk`
decoder outputs in memory and nothing loops over examples in Python. Each
chunk runs through Keras's compiled predict function (`jax.jit`,
`tf.function`; PyTorch without gradient tracking): on JAX that fuses the
element-wise work, which ran op by op before (benchmarks/HISTORY.md,
"Likelihood", session 8).
"""

import math

import keras
import numpy as np
from keras import ops

from keras_vae import kl as kl_lib
from keras_vae import priors
from keras_vae.sampling import posterior_parameters
from keras_vae.sampling import reparameterize


def _batches(dataset):
    for batch in dataset:
        if isinstance(batch, (tuple, list)):
            batch = batch[0]
        yield np.asarray(batch, "float32")


class _ChunkLogSumExp(keras.Model):
    """`[batch]`: `log sum_k w_k` over `samples` importance samples of `x`.

    A Model only so that `predict_on_batch` compiles its call; it is never
    saved or trained. It tracks `seed_generator`, so each call draws new
    noise from the generator's stream, as eager calls would.
    """

    def __init__(self, vae, samples, seed_generator, **kwargs):
        super().__init__(dtype="float32", **kwargs)
        self.vae = vae
        self.samples = samples
        self.seed_generator = seed_generator

    def call(self, x):
        vae, k = self.vae, self.samples
        mean, log_var = vae.encoder(x, training=False)
        mean, log_var = posterior_parameters(mean, log_var)
        batch, latent = ops.shape(x)[0], mean.shape[-1]
        z = reparameterize(  # [k, batch, latent]
            ops.broadcast_to(mean[None], (k, batch, latent)),
            log_var[None],
            self.seed_generator,
        )
        logits = vae.decoder(ops.reshape(z, (k * batch, latent)), training=False)
        repeated = ops.reshape(
            ops.broadcast_to(x[None], (k, batch, *x.shape[1:])),
            (k * batch, *x.shape[1:]),
        )
        log_px = ops.reshape(vae.likelihood.log_prob(repeated, logits), (k, batch))
        log_pz = vae.prior.log_prob(
            ops.reshape(z, (k * batch, latent)), vae.encoder, training=False
        )
        log_w = (
            log_px
            + ops.reshape(log_pz, (k, batch))
            - priors.log_normal(z, mean[None], log_var[None])
        )
        return ops.logsumexp(log_w, axis=0)


class _IWAEBound:
    """The K-sample bound of `vae`, compiled once per chunk size and reused
    across batches."""

    def __init__(self, vae, samples, chunk, seed_generator=None):
        if int(samples) < 1 or int(chunk) < 1:
            raise ValueError(
                "The IWAE bound needs at least one sample and chunks of at least "
                f"one. Received: samples={samples}, chunk={chunk}"
            )
        self.vae = vae
        self.samples = int(samples)
        self.chunk = int(chunk)
        self.seed_generator = seed_generator
        if seed_generator is None:
            self.seed_generator = keras.random.SeedGenerator()
        self._chunks = {}  # chunk size -> its model, made on first use

    def _chunk_model(self, k):
        if k not in self._chunks:
            # A name of our own: TF refuses the class's leading underscore.
            self._chunks[k] = _ChunkLogSumExp(
                self.vae, k, self.seed_generator, name="iwae_chunk"
            )
        return self._chunks[k]

    def __call__(self, x):
        totals = []
        done = 0
        while done < self.samples:
            k = min(self.chunk, self.samples - done)
            sums = self._chunk_model(k).predict_on_batch(x)
            totals.append(np.asarray(sums, "float64"))
            done += k
        stacked = np.stack(totals)  # [chunks, batch]: combine the chunks' sums
        top = stacked.max(axis=0)
        return top + np.log(np.exp(stacked - top).sum(axis=0)) - math.log(self.samples)


def iwae_log_likelihood(vae, x, samples, chunk=100, seed_generator=None):
    """float64 `[batch]`: the K-sample importance-weighted bound on log p(x).

    Compiles on each call; `evaluate` compiles once for all its batches.
    """
    return _IWAEBound(vae, samples, chunk, seed_generator)(np.asarray(x, "float32"))


def evaluate(vae, dataset, iwae_samples=0, seed=0, iwae_chunk=100):
    """Evaluates `vae` on a dataset of images (or `(images, labels)`).

    Returns a dict: `neg_elbo`, `reconstruction`, `kl` (one-sample ELBO terms,
    nats per example), `iwae_nll` (with `iwae_samples > 0`), `bits_per_dim`
    (the best NLL above over `H*W*C*ln 2`), `active_units` (latent dimensions
    whose posterior mean has variance > 0.01 across the data), `kl_per_dim`
    (list; None for a prior without a closed-form KL, whose `kl` is the
    one-sample estimate) and `examples`.
    """
    generator = keras.random.SeedGenerator(seed)
    bound = (
        _IWAEBound(vae, iwae_samples, iwae_chunk, generator) if iwae_samples else None
    )
    count = 0
    sums = {"reconstruction": 0.0, "kl": 0.0, "iwae": 0.0}
    kl_dims = mean_sum = mean_sq = None
    for x in _batches(dataset):
        mean, log_var = vae.encoder(x, training=False)
        z = reparameterize(mean, log_var, generator)
        logits = vae.decoder(z, training=False)
        recon = -ops.convert_to_numpy(vae.likelihood.log_prob(x, logits))
        if vae.prior.analytic_kl:
            per_dim = kl_lib.gaussian_kl(mean, log_var)
        else:  # One column: the estimate has no per-dimension split.
            per_dim = kl_lib.kl_estimate(
                z, mean, log_var, *vae.prior.components(vae.encoder, z.shape[-1])
            )[:, None]
        per_dim = ops.convert_to_numpy(per_dim).astype("float64")
        mean_np = ops.convert_to_numpy(ops.cast(mean, "float32")).astype("float64")
        if kl_dims is None:
            kl_dims = np.zeros(per_dim.shape[1])
            mean_sum = np.zeros(mean_np.shape[1])
            mean_sq = np.zeros(mean_np.shape[1])
        sums["reconstruction"] += float(np.sum(recon))
        sums["kl"] += float(np.sum(per_dim))
        kl_dims += per_dim.sum(axis=0)
        mean_sum += mean_np.sum(axis=0)
        mean_sq += np.square(mean_np).sum(axis=0)
        if iwae_samples:
            sums["iwae"] += float(-np.sum(bound(x)))
        count += len(x)
    if not count:
        raise ValueError("evaluate() needs a dataset with at least one image.")
    dims = math.prod(vae.image_shape)
    result = {
        "examples": count,
        "reconstruction": sums["reconstruction"] / count,
        "kl": sums["kl"] / count,
    }
    result["neg_elbo"] = result["reconstruction"] + result["kl"]
    nll = result["neg_elbo"]
    if iwae_samples:
        result["iwae_nll"] = sums["iwae"] / count
        result["iwae_samples"] = iwae_samples
        nll = result["iwae_nll"]
    result["bits_per_dim"] = nll / (dims * math.log(2.0))
    variance = mean_sq / count - np.square(mean_sum / count)
    result["active_units"] = int(np.sum(variance > 0.01))
    result["kl_per_dim"] = None
    if vae.prior.analytic_kl:
        result["kl_per_dim"] = (kl_dims / count).tolist()
    return result
