"""The convolutional VAE of the keras.io example: strided Conv2D, Conv2DTranspose."""

import keras

from keras_vae.architectures.heads import check_halvings
from keras_vae.architectures.heads import latent_heads
from keras_vae.architectures.sub_pixel import SubPixelConv2DTranspose


def build_conv(
    input_shape,
    latent_dim,
    filters=(32, 64),
    kernel_size=3,
    dense_units=None,
    dtype=None,
):
    """Strided Conv2D encoder, Conv2DTranspose decoder.

    With the defaults and `latent_dim=2` this is the keras.io example: two
    stride-2 convolutions with 32 and 64 filters, then Dense(16).

    Args:
        input_shape: `(height, width, channels)`; height and width must be
            multiples of `2 ** len(filters)`.
        latent_dim: int.
        filters: filters of the stride-2 convolutions, encoder order.
        kernel_size: int.
        dense_units: width of the Dense layer before the heads; None means
            `max(16, 2 * latent_dim)` (16 for the example's latent size 2).
        dtype: dtype policy of the hidden layers (None: the global policy).

    Returns:
        `(encoder, decoder)` functional models.
    """
    filters = tuple(int(f) for f in filters)
    if not filters or min(filters) <= 0:
        raise ValueError(
            "`filters` must be a non-empty list of positive ints. "
            f"Received: filters={filters}"
        )
    check_halvings("conv", input_shape, len(filters))
    if dense_units is None:
        dense_units = max(16, 2 * latent_dim)
    height, width, channels = input_shape
    factor = 2 ** len(filters)

    images = keras.Input(shape=input_shape, name="images")
    h = images
    for i, count in enumerate(filters):
        h = keras.layers.Conv2D(
            count,
            kernel_size,
            strides=2,
            padding="same",
            activation="relu",
            dtype=dtype,
            name=f"encoder_conv_{i}",
        )(h)
    h = keras.layers.Flatten(dtype=dtype)(h)
    h = keras.layers.Dense(
        dense_units, activation="relu", dtype=dtype, name="encoder_dense"
    )(h)
    encoder = keras.Model(images, latent_heads(h, latent_dim), name="encoder")

    z = keras.Input(shape=(latent_dim,), name="z")
    small = (height // factor, width // factor, filters[-1])
    h = keras.layers.Dense(
        small[0] * small[1] * small[2],
        activation="relu",
        dtype=dtype,
        name="decoder_dense",
    )(z)
    h = keras.layers.Reshape(small, dtype=dtype)(h)
    for i, count in enumerate(reversed(filters)):
        h = SubPixelConv2DTranspose(
            count,
            kernel_size,
            strides=2,
            padding="same",
            activation="relu",
            dtype=dtype,
            name=f"decoder_deconv_{i}",
        )(h)
    logits = SubPixelConv2DTranspose(
        channels, kernel_size, padding="same", dtype="float32", name="logits"
    )(h)
    decoder = keras.Model(z, logits, name="decoder")
    return encoder, decoder
