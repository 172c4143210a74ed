"""Priors p(z): the standard normal, and the VampPrior (Tomczak & Welling, 2018).

Both are mixtures of diagonal Gaussians, described by `components(encoder)`:
float32 `(means, log_vars)`, each `[num_components, latent_dim]`. The standard
normal is the one-component mixture N(0, I), whose KL to a Gaussian posterior
is analytic. The VampPrior is the uniform mixture of the encoder's own
posteriors at K learned pseudo-inputs u_k,
`p(z) = (1/K) sum_k q(z | u_k)`; its KL has no closed form, so the VAE uses
the one-sample estimate `log q(z | x) - log p(z)` at the sampled `z`.

On dynamically binarized Fashion-MNIST the Exemplar VAE paper (NeurIPS 2020)
reports 227.4 nats for a VampPrior MLP VAE against 228.7 for the same VAE
with a standard-normal prior.
"""

import math

import keras
import numpy as np
from keras import ops

from keras_vae import checks
from keras_vae.sampling import posterior_parameters

_LOG_2PI = math.log(2.0 * math.pi)


def log_normal(z, mean, log_var):
    """float32 `[...]`: log N(z; mean, exp(log_var)) summed over the last axis."""
    z = ops.cast(z, "float32")
    return ops.sum(
        -0.5 * (_LOG_2PI + log_var + ops.square(z - mean) * ops.exp(-log_var)),
        axis=-1,
    )


def mixture_log_prob(z, means, log_vars):
    """float32 `[batch]`: log of the uniform mixture of diagonal Gaussians.

    Args:
        z: `[batch, latent_dim]`.
        means, log_vars: float32 `[num_components, latent_dim]`.
    """
    # log N(z; m, v) summed over d, expanded so that the [batch, K] table
    # comes from two matrix products rather than a [batch, K, latent] tensor:
    # -0.5 * (sum(log 2pi + log v + m^2 / v) + z^2 . (1 / v) - 2 z . (m / v)).
    z = ops.cast(z, "float32")
    means = ops.cast(ops.convert_to_tensor(means), "float32")
    log_vars = ops.cast(ops.convert_to_tensor(log_vars), "float32")
    precision = ops.exp(-log_vars)
    constant = ops.sum(_LOG_2PI + log_vars + ops.square(means) * precision, axis=-1)
    per_component = -0.5 * (
        constant[None]
        + ops.matmul(ops.square(z), ops.transpose(precision))
        - 2.0 * ops.matmul(z, ops.transpose(means * precision))
    )
    count = ops.shape(means)[0]
    return ops.logsumexp(per_component, axis=1) - ops.log(ops.cast(count, "float32"))


_ERF = np.frompyfunc(math.erf, 1, 1)


def marginal_quantiles(means, log_vars, probs, iterations=80):
    """Quantiles of each latent dimension's marginal under a mixture prior.

    The marginal of dimension d of a uniform mixture of diagonal Gaussians is
    the 1-D mixture of the components' N(means[k, d], exp(log_vars[k, d]));
    its quantiles are found by bisection on its CDF (for N(0, I): the
    standard-normal quantiles).

    Args:
        means, log_vars: `[num_components, latent_dim]` NumPy arrays, as
            `VAE.prior_components()` returns them.
        probs: 1-D probabilities, each strictly between 0 and 1.
        iterations: bisection steps (80 halve the bracket below float64's
            resolution).

    Returns:
        float64 `[len(probs), latent_dim]`.
    """
    means = np.asarray(means, "float64")
    log_vars = np.asarray(log_vars, "float64")
    probs = np.asarray(probs, "float64")
    if means.ndim != 2 or means.shape != log_vars.shape:
        raise ValueError(
            "`means` and `log_vars` must both be [num_components, latent_dim]. "
            f"Received: shapes {means.shape} and {log_vars.shape}"
        )
    if probs.ndim != 1 or not np.all((probs > 0) & (probs < 1)):
        raise ValueError(
            f"`probs` must be a 1-D array of values in (0, 1). Received: {probs}"
        )
    std = np.exp(0.5 * log_vars)
    shape = (probs.size, means.shape[1])
    low = np.broadcast_to((means - 10.0 * std).min(axis=0), shape).copy()
    high = np.broadcast_to((means + 10.0 * std).max(axis=0), shape).copy()
    # [1, components, latent], so that each step's [probs, components, latent]
    # standardized distances need one subtraction and one division.
    centres, scales = means[None], std[None] * math.sqrt(2.0)
    for _ in range(iterations):
        middle = 0.5 * (low + high)
        t = (middle[:, None, :] - centres) / scales
        cdf = np.mean(0.5 * (1.0 + _ERF(t).astype("float64")), axis=1)
        below = cdf < probs[:, None]
        low = np.where(below, middle, low)
        high = np.where(below, high, middle)
    return 0.5 * (low + high)


class Prior(keras.layers.Layer):
    """Base class: a uniform mixture of diagonal Gaussians over the latents.

    `analytic_kl` is True when KL(q || p) has the closed form of
    `keras_vae.kl` (the standard normal only).
    """

    analytic_kl = False

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)

    def build_for(self, image_shape):
        """Makes the prior's weights for images of `image_shape`; the VAE
        calls it once. Priors without weights need nothing."""
        del image_shape

    def components(self, encoder, latent_dim, training=False):
        """float32 `(means, log_vars)`, `[num_components, latent_dim]`."""
        raise NotImplementedError

    def log_prob(self, z, encoder, training=False):
        """float32 `[batch]`: log p(z) for `z` `[batch, latent_dim]`."""
        means, log_vars = self.components(encoder, z.shape[-1], training=training)
        return mixture_log_prob(z, means, log_vars)

    def sample(self, num, encoder, latent_dim, seed=None):
        """float32 `[num, latent_dim]` draws from the prior.

        `seed`: an int, a `keras.random.SeedGenerator` or None.
        """
        means, log_vars = self.components(encoder, latent_dim)
        if isinstance(seed, int) or seed is None:
            seed = keras.random.SeedGenerator(seed)
        count = means.shape[0]
        which = keras.random.randint((num,), 0, count, seed=seed)
        eps = keras.random.normal((num, latent_dim), dtype="float32", seed=seed)
        return (
            ops.take(means, which, axis=0)
            + ops.exp(0.5 * ops.take(log_vars, which, axis=0)) * eps
        )


@keras.saving.register_keras_serializable(package="keras_vae")
class StandardNormal(Prior):
    """p(z) = N(0, I), the prior of the classic VAE. No weights.

    Example:

    ```python
    prior = keras_vae.priors.StandardNormal()
    log_p = prior.log_prob(keras.ops.zeros((4, 2)), encoder=None)
    ```
    """

    analytic_kl = True

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.built = True

    def components(self, encoder, latent_dim, training=False):
        del encoder, training
        zeros = ops.zeros((1, latent_dim), "float32")
        return zeros, zeros

    def log_prob(self, z, encoder=None, training=False):
        del encoder, training
        z = ops.cast(z, "float32")
        return ops.sum(-0.5 * (_LOG_2PI + ops.square(z)), axis=-1)

    def sample(self, num, encoder, latent_dim, seed=None):
        del encoder
        return keras.random.normal((num, latent_dim), dtype="float32", seed=seed)


@keras.saving.register_keras_serializable(package="keras_vae")
class VampPrior(Prior):
    """The variational mixture of posteriors prior (Tomczak & Welling, 2018).

    `p(z) = (1/K) sum_k q(z | u_k)`: the encoder's posteriors at K
    pseudo-inputs `u_k`, trained with the rest of the model. The pseudo-inputs
    are images of the encoder's input shape, stored unconstrained in the
    weight `pseudo_inputs` and clipped to [0, 1] before the encoder sees them
    (the paper's hard-tanh), so they are valid inputs for the Bernoulli
    likelihoods.

    Each training step runs the encoder on the K pseudo-inputs as well as on
    the batch, in one call: K = 100 adds 100 rows to a batch of 128 in the
    encoder (and, for encoders with BatchNorm, to its batch statistics).
    Evaluation, sampling and export compute the components with
    `training=False`.

    Args:
        num_components: int >= 1, the number of pseudo-inputs K (the paper
            uses 500 on MNIST).
        pseudo_input_mean, pseudo_input_stddev: the normal initializer of
            the pseudo-inputs (the paper's 0.05 and 0.01 for MNIST).
        **kwargs: passed to `keras.layers.Layer`.

    Example:

    ```python
    vae = keras_vae.build_vae(
        "mlp", (28, 28, 1), 64, prior=keras_vae.priors.VampPrior(100)
    )
    ```
    """

    def __init__(
        self,
        num_components=500,
        pseudo_input_mean=0.05,
        pseudo_input_stddev=0.01,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_components = checks.check_positive_int(
            num_components, "num_components"
        )
        for name, value in (
            ("pseudo_input_mean", pseudo_input_mean),
            ("pseudo_input_stddev", pseudo_input_stddev),
        ):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(
                    f"`{name}` must be a float. Received: {name}={value!r}"
                )
        if not pseudo_input_stddev >= 0:
            raise ValueError(
                "`pseudo_input_stddev` must be >= 0. Received: "
                f"pseudo_input_stddev={pseudo_input_stddev!r}"
            )
        self.pseudo_input_mean = float(pseudo_input_mean)
        self.pseudo_input_stddev = float(pseudo_input_stddev)

    def build_for(self, image_shape):
        """Makes the pseudo-inputs, `[num_components, *image_shape]`."""
        if self.built:
            return
        self.pseudo_inputs = self.add_weight(
            shape=(self.num_components, *image_shape),
            initializer=keras.initializers.RandomNormal(
                self.pseudo_input_mean, self.pseudo_input_stddev
            ),
            trainable=True,
            name="pseudo_inputs",
        )
        self.built = True

    def build(self, input_shape):
        # Keras may call `build` when loading; the image shape comes from the
        # VAE, which calls `build_for` first.
        if not self.built:
            raise ValueError(
                "A VampPrior is built by its VAE (`build_for(image_shape)`), "
                f"not from an input shape. Received: build({input_shape!r})"
            )

    def images(self):
        """The pseudo-inputs as images in [0, 1], float32."""
        return ops.clip(ops.cast(self.pseudo_inputs, "float32"), 0.0, 1.0)

    def components(self, encoder, latent_dim, training=False):
        del latent_dim
        means, log_vars = encoder(self.images(), training=training)
        return posterior_parameters(means, log_vars)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_components": self.num_components,
                "pseudo_input_mean": self.pseudo_input_mean,
                "pseudo_input_stddev": self.pseudo_input_stddev,
            }
        )
        return config


_NAMES = {"standard_normal": StandardNormal, "vamp": VampPrior}
NAMES = tuple(_NAMES)


def get(identifier):
    """A `Prior` from a name ("standard_normal", "vamp"), a config or itself."""
    if isinstance(identifier, Prior):
        return identifier
    if isinstance(identifier, str) and identifier in _NAMES:
        return _NAMES[identifier]()
    if isinstance(identifier, dict):
        prior = keras.saving.deserialize_keras_object(identifier)
        if isinstance(prior, Prior):
            return prior
    raise ValueError(
        f"Unknown prior. Expected one of {list(NAMES)} or a "
        f"keras_vae.priors.Prior. Received: prior={identifier!r}"
    )
