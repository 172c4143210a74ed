"""Decoder likelihoods p(x | z): negative log-likelihoods in nats, in float32.

Every likelihood reads the decoder's unconstrained output ("logits", one value
per pixel and channel) and maps it to its parameters, so one decoder
architecture serves all of them. `mean(logits)` gives images in [0, 1].
"""

import math

import keras
from keras import ops

_LOG_2PI = math.log(2.0 * math.pi)


def _per_example(x, logits):
    """`x` and `logits` as float32 `[batch, values]`, one row per example.

    The likelihoods compute on these flat rows and sum over the last axis.
    XLA on CPU runs the same elementwise terms and sum over `[128, 28, 28, 1]`
    far more slowly: on JAX it made the whole MLP VAE training step about a
    third slower (benchmarks/HISTORY.md, "Session 5: what changed").
    """
    x = ops.cast(x, "float32")
    logits = ops.cast(logits, "float32")
    event_shape = tuple(logits.shape[1:])
    if None in event_shape:  # Unknown image size: keep the axes.
        return x, logits
    size = math.prod(event_shape)
    return ops.reshape(x, (-1, size)), ops.reshape(logits, (-1, size))


def _sum_per_example(values):
    return ops.sum(values, axis=tuple(range(1, len(values.shape))))


class Likelihood(keras.layers.Layer):
    """Base class: `log_prob(x, logits)` per example and `mean(logits)`.

    Calling the layer on logits returns `mean(logits)`. Subclasses set
    `unit_interval` when the data must lie in [0, 1].
    """

    unit_interval = True

    def __init__(self, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        self.built = True

    def log_prob(self, x, logits):
        """float32 `[batch]`: log p(x | logits) summed over pixels and channels."""
        raise NotImplementedError

    def mean(self, logits):
        """float32 images: the likelihood's mean, in [0, 1]."""
        raise NotImplementedError

    def call(self, logits):
        return self.mean(logits)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)


@keras.saving.register_keras_serializable(package="keras_vae")
class Bernoulli(Likelihood):
    """Bernoulli likelihood from logits: the "BCE" reconstruction loss.

    `log p(x | l) = x * l - softplus(l)`, stable for any logit. Targets may be
    any value in [0, 1] (soft BCE, as in the tutorials); it is a normalised
    likelihood only for binary data.

    Example:

    ```python
    likelihood = keras_vae.likelihoods.Bernoulli()
    nll = -likelihood.log_prob(images, logits)
    ```
    """

    def log_prob(self, x, logits):
        x, logits = _per_example(x, logits)
        return _sum_per_example(x * logits - ops.softplus(logits))

    def mean(self, logits):
        return ops.sigmoid(ops.cast(logits, "float32"))


@keras.saving.register_keras_serializable(package="keras_vae")
class Gaussian(Likelihood):
    """Gaussian likelihood with mean `sigmoid(logits)` and one shared sigma.

    Args:
        sigma: float > 0. The standard deviation, or its initial value when
            learned.
        learn_sigma: bool. Learn one sigma shared by all pixels (the
            "sigma-VAE" of Rybkin et al., 2021) instead of fixing it.
        min_sigma: float > 0. Lower bound on a learned sigma.
        **kwargs: passed to `keras.layers.Layer`.

    Example:

    ```python
    vae = keras_vae.build_vae(
        "conv", (28, 28, 1), 2, likelihood=keras_vae.likelihoods.Gaussian(0.1)
    )
    ```
    """

    unit_interval = False

    def __init__(self, sigma=1.0, learn_sigma=True, min_sigma=1e-3, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("sigma", sigma), ("min_sigma", min_sigma)):
            if not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(
                    f"`{name}` must be a positive float. Received: {name}={value!r}"
                )
        if sigma < min_sigma:
            raise ValueError(
                f"`sigma` must be >= `min_sigma`. Received: sigma={sigma}, "
                f"min_sigma={min_sigma}"
            )
        self.sigma = float(sigma)
        self.learn_sigma = bool(learn_sigma)
        self.min_sigma = float(min_sigma)
        self.log_sigma = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(math.log(sigma)),
            trainable=self.learn_sigma,
            autocast=False,
            name="log_sigma",
        )

    def _log_sigma(self):
        return ops.maximum(
            ops.cast(self.log_sigma, "float32"), math.log(self.min_sigma)
        )

    def log_prob(self, x, logits):
        x, logits = _per_example(x, logits)
        log_sigma = self._log_sigma()
        z = (x - self.mean(logits)) * ops.exp(-log_sigma)
        return _sum_per_example(-0.5 * ops.square(z) - log_sigma - 0.5 * _LOG_2PI)

    def mean(self, logits):
        return ops.sigmoid(ops.cast(logits, "float32"))

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "sigma": self.sigma,
                "learn_sigma": self.learn_sigma,
                "min_sigma": self.min_sigma,
            }
        )
        return config


# Below this |logit| the closed forms divide 0 by 0 or cancel; their Taylor
# series are used instead (errors below 1e-9 at the switch).
_CB_SERIES_BELOW = 0.1


@keras.saving.register_keras_serializable(package="keras_vae")
class ContinuousBernoulli(Likelihood):
    """Continuous Bernoulli likelihood (Loaiza-Ganem & Cunningham, 2019).

    The right likelihood for [0, 1] data that is not binary: the Bernoulli
    term plus the log-normaliser `log C(l)`, where in terms of the logit
    `l = logit(lambda)`: `C(l) = l / tanh(l / 2)` (and 2 at `l = 0`). Its mean,
    `sigmoid(l) / tanh(l / 2) - 1 / l`, is what `mean` returns.

    Example:

    ```python
    vae = keras_vae.build_vae("mlp", (28, 28, 1), likelihood="continuous_bernoulli")
    ```
    """

    def log_normalizer(self, logits):
        """float32 `log C(logits)`, elementwise."""
        logits = ops.cast(logits, "float32")
        small = ops.abs(logits) < _CB_SERIES_BELOW
        safe = ops.where(small, _CB_SERIES_BELOW, logits)
        exact = ops.log(ops.abs(safe)) - ops.log(ops.abs(ops.tanh(0.5 * safe)))
        sq = ops.square(logits)
        series = math.log(2.0) + ops.log1p(sq / 12.0 - ops.square(sq) / 720.0)
        return ops.where(small, series, exact)

    def log_prob(self, x, logits):
        x, logits = _per_example(x, logits)
        values = x * logits - ops.softplus(logits) + self.log_normalizer(logits)
        return _sum_per_example(values)

    def mean(self, logits):
        logits = ops.cast(logits, "float32")
        small = ops.abs(logits) < _CB_SERIES_BELOW
        safe = ops.where(small, _CB_SERIES_BELOW, logits)
        exact = ops.sigmoid(safe) / ops.tanh(0.5 * safe) - 1.0 / safe
        series = 0.5 + logits / 12.0 - ops.power(logits, 3) / 720.0
        return ops.clip(ops.where(small, series, exact), 0.0, 1.0)


_BY_NAME = {
    "bernoulli": Bernoulli,
    "gaussian": Gaussian,
    "continuous_bernoulli": ContinuousBernoulli,
}
NAMES = tuple(_BY_NAME)


def get(identifier):
    """Returns a likelihood from a name, a serialized config or an instance."""
    if isinstance(identifier, Likelihood):
        return identifier
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise ValueError(
                f"Unknown likelihood. Expected one of {list(NAMES)}. "
                f"Received: likelihood={identifier!r}"
            )
        return _BY_NAME[identifier]()
    if isinstance(identifier, dict):
        likelihood = keras.saving.deserialize_keras_object(identifier)
        if isinstance(likelihood, Likelihood):
            return likelihood
    raise ValueError(
        f"`likelihood` must be one of {list(NAMES)} or a "
        f"keras_vae.likelihoods.Likelihood. Received: likelihood={identifier!r}"
    )
