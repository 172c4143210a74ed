"""Layers every architecture ends with, pinned to float32 for mixed precision."""

import keras


def latent_heads(features, latent_dim):
    """Dense `z_mean` and `z_log_var` heads (float32) on encoder features."""
    z_mean = keras.layers.Dense(latent_dim, dtype="float32", name="z_mean")(features)
    z_log_var = keras.layers.Dense(latent_dim, dtype="float32", name="z_log_var")(
        features
    )
    return [z_mean, z_log_var]


def check_halvings(arch, input_shape, halvings):
    """Raises unless height and width can be halved `halvings` times."""
    factor = 2**halvings
    height, width = input_shape[0], input_shape[1]
    if height % factor or width % factor:
        raise ValueError(
            f"arch={arch!r} halves the image {halvings} time(s), so height and "
            f"width must be multiples of {factor}. Received: "
            f"input_shape={tuple(input_shape)}"
        )
