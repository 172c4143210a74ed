"""`build_vae`: the architectures of the source tutorials, by name."""

import inspect

from keras_vae import checks
from keras_vae.architectures.conv import build_conv
from keras_vae.architectures.dcgan import build_dcgan
from keras_vae.architectures.mlp import build_mlp
from keras_vae.model import VAE

# name -> (builder, default latent size from the source tutorial)
ARCHITECTURES = {
    "mlp": (build_mlp, 20),
    "conv": (build_conv, 2),
    "dcgan": (build_dcgan, 32),
}


def _check_input_shape(input_shape):
    try:
        shape = tuple(int(d) for d in input_shape)
    except (TypeError, ValueError):
        shape = None
    if shape is None or len(shape) != 3 or min(shape) <= 0:
        raise ValueError(
            "`input_shape` must be (height, width, channels) of positive ints. "
            f"Received: input_shape={input_shape!r}"
        )
    return shape


def build_vae(
    arch,
    input_shape,
    latent_dim=None,
    likelihood="bernoulli",
    *,
    beta=1.0,
    free_bits=0.0,
    seed=None,
    prior="standard_normal",
    dtype=None,
    name="vae",
    **options,
):
    """Builds a `VAE` with one of the tutorials' architectures.

    Args:
        arch: "mlp", "conv" or "dcgan".
        input_shape: `(height, width, channels)`, e.g. (28, 28, 1), (32, 32, 3).
        latent_dim: int; None takes the tutorial's size (mlp 20, conv 2,
            dcgan 32).
        likelihood: see `VAE`.
        beta, free_bits, seed, prior: see `VAE`.
        dtype: dtype policy of the hidden layers, e.g. "mixed_bfloat16"
            (None: the global policy). Heads, sampling, KL and likelihood
            stay float32.
        name: the model's name.
        **options: the architecture's own options: mlp `hidden_units`,
            `activation`, `encoder_units`; conv `filters`, `kernel_size`,
            `dense_units`; dcgan `base_filters`, `num_blocks`, `bn_momentum`.

    Returns:
        A `keras_vae.VAE`.

    Example:

    ```python
    vae = keras_vae.build_vae("conv", (28, 28, 1), latent_dim=2)
    ```
    """
    if arch not in ARCHITECTURES:
        raise ValueError(
            f"Unknown arch. Expected one of {list(ARCHITECTURES)}. "
            f"Received: arch={arch!r}"
        )
    builder, default_latent = ARCHITECTURES[arch]
    accepted = [
        p
        for p in inspect.signature(builder).parameters
        if p not in ("input_shape", "latent_dim", "dtype")
    ]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ValueError(
            f"Unknown option(s) {unknown} for arch={arch!r}. "
            f"Expected some of {accepted}."
        )
    input_shape = _check_input_shape(input_shape)
    latent_dim = default_latent if latent_dim is None else latent_dim
    latent_dim = checks.check_positive_int(latent_dim, "latent_dim")
    encoder, decoder = builder(input_shape, latent_dim, dtype=dtype, **options)
    return VAE(
        encoder,
        decoder,
        likelihood=likelihood,
        beta=beta,
        free_bits=free_bits,
        seed=seed,
        prior=prior,
        dtype=dtype,
        name=name,
    )
