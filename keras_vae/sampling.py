"""The reparameterization trick as a Keras layer."""

import keras
from keras import ops

# keras-hub clips the log-variance to this range before `exp`: exp(20) is finite
# in float32 and exp(-30) keeps the variance positive.
LOG_VAR_MIN = -30.0
LOG_VAR_MAX = 20.0


def posterior_parameters(mean, log_var):
    """`(mean, log_var)` as float32, the log-variance clipped to [-30, 20]."""
    return ops.cast(mean, "float32"), ops.clip(
        ops.cast(log_var, "float32"), LOG_VAR_MIN, LOG_VAR_MAX
    )


def reparameterize(mean, log_var, seed=None):
    """`mean + exp(0.5 * log_var) * eps`, `eps ~ N(0, I)` of `mean`'s shape.

    Float32 whatever the inputs; the log-variance is clipped to [-30, 20].
    `seed` is anything `keras.random.normal` takes (int, SeedGenerator, None).
    """
    mean, log_var = posterior_parameters(mean, log_var)
    eps = keras.random.normal(ops.shape(mean), dtype="float32", seed=seed)
    return mean + ops.exp(0.5 * log_var) * eps


@keras.saving.register_keras_serializable(package="keras_vae")
class Sampling(keras.layers.Layer):
    """Draws `z = mean + exp(0.5 * log_var) * eps` with `eps ~ N(0, I)`.

    The layer samples when `training=True` or when called with `sample=True`;
    otherwise it returns `mean`, the deterministic path used for embeddings.
    The arithmetic runs in float32 whatever the dtype policy, and the
    log-variance is clipped to [-30, 20] before `exp`.

    Args:
        seed: int or None. Seed of the layer's own `keras.random.SeedGenerator`.
        **kwargs: passed to `keras.layers.Layer` (`name`, `dtype`, ...). The
            dtype defaults to "float32" because sampling is numerically
            delicate under mixed precision.

    Example:

    ```python
    mean = keras.ops.zeros((4, 2))
    log_var = keras.ops.zeros((4, 2))
    z = keras_vae.Sampling(seed=1)([mean, log_var], sample=True)
    ```
    """

    def __init__(self, seed=None, **kwargs):
        kwargs.setdefault("dtype", "float32")
        super().__init__(**kwargs)
        if seed is not None and not isinstance(seed, int):
            raise ValueError(f"`seed` must be an int or None. Received: seed={seed!r}")
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        # No weights to make: built now, as Keras's Dropout is. Otherwise
        # `fit` on JAX or PyTorch pulls a batch from the data just to build
        # the model, which makes the data of a resumed run differ.
        self.built = True

    def call(self, inputs, training=None, sample=None):
        mean, log_var = inputs
        mean = ops.cast(mean, "float32")
        if sample is None:
            sample = bool(training)
        if not sample:
            return mean
        return reparameterize(mean, log_var, self.seed_generator)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        config = super().get_config()
        config.update({"seed": self.seed})
        return config
