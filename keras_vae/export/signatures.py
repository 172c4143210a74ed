"""SavedModel signatures of the decoder and encoder (TensorFlow backend).

Decoder, `NAME_decoder/<version>/`:
- `serving_default`: `z` float32 `[None, latent_dim]` -> `images` float32
  `[None, H, W, C]` in [0, 1] (the likelihood's mean).
- `generate`: `count` int32 scalar, `seed` int32 scalar -> `images`, decoded
  from `count` prior samples fixed by `seed`. The prior is the model's: for
  a VampPrior its components (the encoder's posteriors at the pseudo-inputs)
  are computed at export and stored as constants.

Encoder, `NAME_encoder/<version>/`:
- `serving_default`: `images` float32 `[None, H, W, C]` in [0, 1] ->
  `mean`, `log_var` float32 `[None, latent_dim]`.
- `serving_uint8`: `pixels` uint8 `[None, H, W, C]` (0-255, scaled inside) ->
  `mean`, `log_var`.

Inputs are checked inside the graph (finite; in [0, 1] for the Bernoulli
likelihoods; count >= 1), so TF Serving answers a bad request with an error.
"""

import keras


def write_decoder(vae, path):
    import tensorflow as tf

    latent_dim = vae.latent_dim
    means, log_vars = vae.prior_components()  # [K, latent_dim]; N(0, I): K = 1
    means, log_vars = tf.constant(means), tf.constant(log_vars)
    archive = keras.export.ExportArchive()
    archive.track(vae.decoder)

    def decode(z):
        z = tf.debugging.assert_all_finite(z, "z must be finite")
        logits = vae.decoder(z, training=False)
        return {"images": vae.likelihood.mean(logits)}

    def generate(count, seed):
        tf.debugging.assert_positive(count, "count must be >= 1")
        eps = tf.random.stateless_normal(
            tf.stack([count, latent_dim]), seed=tf.stack([seed, 0])
        )
        which = tf.random.stateless_uniform(  # the mixture component of each
            tf.reshape(count, [1]),
            seed=tf.stack([seed, 1]),
            minval=0,
            maxval=tf.shape(means)[0],
            dtype=tf.int32,
        )
        z = tf.gather(means, which) + tf.exp(0.5 * tf.gather(log_vars, which)) * eps
        return decode(z)

    archive.add_endpoint(
        "serving_default",
        decode,
        input_signature=[tf.TensorSpec([None, latent_dim], tf.float32, name="z")],
    )
    archive.add_endpoint(
        "generate",
        generate,
        input_signature=[
            tf.TensorSpec([], tf.int32, name="count"),
            tf.TensorSpec([], tf.int32, name="seed"),
        ],
    )
    archive.write_out(path, verbose=False)


def write_encoder(vae, path):
    import tensorflow as tf

    shape = [None, *vae.image_shape]
    unit_interval = vae.likelihood.unit_interval
    archive = keras.export.ExportArchive()
    archive.track(vae.encoder)

    def encode(images):
        images = tf.debugging.assert_all_finite(images, "images must be finite")
        checks = []
        if unit_interval:
            checks = [
                tf.debugging.assert_greater_equal(
                    images, 0.0, message="images must be in [0, 1]"
                ),
                tf.debugging.assert_less_equal(
                    images, 1.0, message="images must be in [0, 1]"
                ),
            ]
        with tf.control_dependencies(checks):
            mean, log_var = vae.encoder(images, training=False)
        return {"mean": mean, "log_var": log_var}

    def encode_uint8(pixels):
        return encode(tf.cast(pixels, tf.float32) / 255.0)

    archive.add_endpoint(
        "serving_default",
        encode,
        input_signature=[tf.TensorSpec(shape, tf.float32, name="images")],
    )
    archive.add_endpoint(
        "serving_uint8",
        encode_uint8,
        input_signature=[tf.TensorSpec(shape, tf.uint8, name="pixels")],
    )
    archive.write_out(path, verbose=False)


def write_decoder_onnx(vae, path):
    """The decoder (to images in [0, 1]) as ONNX: input `z`, one output."""
    import numpy as np

    generator = keras.Model(
        vae.decoder.inputs[0], vae.likelihood(vae.decoder.outputs[0]), name="generator"
    )
    generator(np.zeros((1, vae.latent_dim), "float32"))  # Keras exports called models
    generator.export(path, format="onnx", verbose=False)
