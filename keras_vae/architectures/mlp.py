"""The MLP VAE of the PyTorch examples: 784-400-20 by default."""

import math

import keras

from keras_vae.architectures.heads import latent_heads


def build_mlp(
    input_shape,
    latent_dim,
    hidden_units=(400,),
    activation="relu",
    dtype=None,
    encoder_units=None,
):
    """Dense encoder and decoder; by default the decoder mirrors the encoder.

    Args:
        input_shape: `(height, width, channels)`.
        latent_dim: int.
        hidden_units: sizes of the hidden Dense layers, encoder order; the
            decoder has them in reverse order.
        activation: activation of the hidden layers.
        dtype: dtype policy of the hidden layers (None: the global policy).
        encoder_units: the encoder's own hidden sizes, for an encoder
            narrower or deeper than the decoder (None: `hidden_units`).
            A narrower encoder makes each step cheaper; what that buys in
            likelihood is measured in benchmarks/RESULTS.md.

    Returns:
        `(encoder, decoder)` functional models.
    """
    hidden_units = _sizes("hidden_units", hidden_units)
    encoder_units = (
        hidden_units
        if encoder_units is None
        else _sizes("encoder_units", encoder_units)
    )
    images = keras.Input(shape=input_shape, name="images")
    h = keras.layers.Flatten(dtype=dtype)(images)
    for i, units in enumerate(encoder_units):
        h = keras.layers.Dense(
            units, activation=activation, dtype=dtype, name=f"encoder_dense_{i}"
        )(h)
    encoder = keras.Model(images, latent_heads(h, latent_dim), name="encoder")

    z = keras.Input(shape=(latent_dim,), name="z")
    h = z
    for i, units in enumerate(reversed(hidden_units)):
        h = keras.layers.Dense(
            units, activation=activation, dtype=dtype, name=f"decoder_dense_{i}"
        )(h)
    h = keras.layers.Dense(math.prod(input_shape), dtype="float32", name="logits")(h)
    logits = keras.layers.Reshape(input_shape, dtype="float32")(h)
    decoder = keras.Model(z, logits, name="decoder")
    return encoder, decoder


def _sizes(name, units):
    sizes = tuple(int(u) for u in units)
    if not sizes or min(sizes) <= 0:
        raise ValueError(
            f"`{name}` must be a non-empty list of positive ints. "
            f"Received: {name}={sizes}"
        )
    return sizes
