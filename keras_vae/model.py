"""The VAE model: encoder, Sampling, decoder, KL through `add_loss`."""

import keras
import numpy as np
from keras import ops

from keras_vae import checks
from keras_vae import kl as kl_lib
from keras_vae import likelihoods
from keras_vae import priors
from keras_vae.sampling import Sampling
from keras_vae.sampling import posterior_parameters


def _scale_for_replicas(value):
    """Divides by the replica count under `tf.distribute`, like compiled losses.

    The TensorFlow trainer sums gradients over replicas and un-scales the
    returned loss for its `loss` metric, so `compute_loss` must return the
    per-replica share.
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        if replicas > 1:
            value = value * (1.0 / replicas)
    return value


def _check_submodels(encoder, decoder):
    for name, model in (("encoder", encoder), ("decoder", decoder)):
        if not isinstance(model, keras.Model):
            raise ValueError(
                f"`{name}` must be a keras.Model. Received: {name} of type "
                f"{type(model).__name__}"
            )
    if len(encoder.outputs or ()) != 2:
        raise ValueError(
            "`encoder` must output two tensors, [mean, log_var]. Received: "
            f"{len(encoder.outputs or ())} output(s)."
        )
    mean_shape = tuple(encoder.outputs[0].shape)
    var_shape = tuple(encoder.outputs[1].shape)
    if len(mean_shape) != 2 or mean_shape != var_shape:
        raise ValueError(
            "`encoder` outputs must both have shape (None, latent_dim). "
            f"Received: {mean_shape} and {var_shape}."
        )
    if tuple(decoder.input_shape) != mean_shape:
        raise ValueError(
            f"`decoder` must take latent codes of shape {mean_shape}. "
            f"Received: decoder.input_shape={tuple(decoder.input_shape)}"
        )
    if tuple(decoder.output_shape) != tuple(encoder.input_shape):
        raise ValueError(
            "`decoder` must output images of the encoder's input shape "
            f"{tuple(encoder.input_shape)}. Received: "
            f"decoder.output_shape={tuple(decoder.output_shape)}"
        )


def _is_tf_dataset(data):
    return type(data).__module__.startswith("tensorflow.python.data")


def _is_array(data):
    return isinstance(data, np.ndarray) or (
        hasattr(data, "shape") and hasattr(data, "dtype") and hasattr(data, "ndim")
    )


@keras.saving.register_keras_serializable(package="keras_vae")
class VAE(keras.Model):
    """Variational autoencoder trained with `fit` on any Keras backend.

    The encoder maps images to `[mean, log_var]`; `Sampling` draws
    `z = mean + exp(0.5 log_var) * eps`; the decoder maps `z` to the logits of
    the chosen likelihood. The KL term, `kl_weight * KL` (batch mean of the
    per-example KL, float32), goes through `add_loss`: the closed form for
    the standard-normal prior, the one-sample estimate
    `log q(z | x) - log p(z)` for a learned prior (`keras_vae.priors`);
    `compute_loss` adds the reconstruction term, the batch mean of
    `-log p(x | z)` summed over pixels.
    With a KL weight of 1 the reported `loss` is the negative ELBO per example
    in nats.
    `fit`/`evaluate` report `loss`, `reconstruction` and `kl` (the true KL,
    before `beta` and free bits).

    Datasets may yield `x` or `(x, label)`; labels are ignored. The latent
    code is sampled in `evaluate` too, so `val_loss` is an honest ELBO.

    Args:
        encoder: `keras.Model`, images `[batch, H, W, C]` ->
            `[mean, log_var]`, each `[batch, latent_dim]`.
        decoder: `keras.Model`, `[batch, latent_dim]` -> logits
            `[batch, H, W, C]`.
        likelihood: "bernoulli", "gaussian", "continuous_bernoulli" or a
            `keras_vae.likelihoods.Likelihood`.
        beta: float >= 0. Weight of the KL term (beta-VAE). Its current
            value lives in the non-trainable variable `kl_weight`, which
            `keras_vae.callbacks.KLWarmup` changes during training.
        free_bits: float >= 0. Minimum batch-mean KL per latent dimension
            (nats) in the optimised objective; 0 disables it. Needs the
            standard-normal prior, whose KL splits by dimension.
        prior: "standard_normal" (N(0, I)), "vamp" (a 500-component
            VampPrior) or a `keras_vae.priors.Prior`.
        seed: int or None. Seed of the sampling noise.
        **kwargs: passed to `keras.Model` (`name`, `dtype`, ...).

    Example:

    ```python
    vae = keras_vae.build_vae("mlp", (28, 28, 1), latent_dim=20)
    vae.compile()  # Adam(1e-3)
    vae.fit(dataset_of_images, epochs=10)
    images = vae.sample(16, seed=0)
    ```
    """

    def __init__(
        self,
        encoder,
        decoder,
        likelihood="bernoulli",
        beta=1.0,
        free_bits=0.0,
        seed=None,
        prior="standard_normal",
        **kwargs,
    ):
        super().__init__(**kwargs)
        _check_submodels(encoder, decoder)
        for name, value in (("beta", beta), ("free_bits", free_bits)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(
                    f"`{name}` must be a float >= 0. Received: {name}={value!r}"
                )
            if not value >= 0:
                raise ValueError(
                    f"`{name}` must be a float >= 0. Received: {name}={value!r}"
                )
        self.encoder = encoder
        self.decoder = decoder
        self.likelihood = likelihoods.get(likelihood)
        self.beta = float(beta)
        self.free_bits = float(free_bits)
        self.seed = seed
        self.prior = priors.get(prior)
        if self.free_bits and not self.prior.analytic_kl:
            raise ValueError(
                "`free_bits` needs the standard-normal prior, whose KL splits by "
                f"latent dimension. Received: free_bits={free_bits!r} with "
                f"prior={type(self.prior).__name__}"
            )
        self.prior.build_for(self.image_shape)
        self.sampling = Sampling(seed=seed, name="sampling")
        self.kl_weight = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(self.beta),
            trainable=False,
            autocast=False,
            name="kl_weight",
        )
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.built = True

    @property
    def image_shape(self):
        """`(height, width, channels)` of the images the model takes."""
        return tuple(self.encoder.input_shape[1:])

    @property
    def latent_dim(self):
        return int(self.decoder.input_shape[-1])

    def compile(self, optimizer=None, **kwargs):
        """Like `keras.Model.compile`; the optimizer defaults to Adam(1e-3).

        The VAE defines its own loss, so `loss` must not be given.
        """
        if kwargs.get("loss") is not None:
            raise ValueError(
                "A VAE defines its own loss (reconstruction + beta * KL); call "
                f"compile() without `loss`. Received: loss={kwargs['loss']!r}"
            )
        kwargs.pop("loss", None)
        if optimizer is None:
            optimizer = keras.optimizers.Adam(learning_rate=1e-3)
        super().compile(optimizer=optimizer, **kwargs)

    def compile_from_config(self, config):
        """Restores the compile arguments saved in a `.keras` file."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        self.optimizer.build(self.trainable_variables)

    def call(self, inputs, training=None):
        checks.check_symbolic_images(inputs, self.image_shape)
        if self.prior.analytic_kl:
            z_mean, z_log_var = self.encoder(inputs, training=training)
            z = self.sampling([z_mean, z_log_var], sample=True)
            kl = kl_lib.kl_per_example(z_mean, z_log_var)
            objective = kl_lib.kl_objective(z_mean, z_log_var, self.free_bits)
        else:
            # One encoder call for the batch and the prior's pseudo-inputs.
            pseudo = self.prior.images()
            count = pseudo.shape[0]
            both = ops.concatenate([inputs, ops.cast(pseudo, inputs.dtype)], axis=0)
            means, log_vars = self.encoder(both, training=training)
            z_mean, z_log_var = means[:-count], log_vars[:-count]
            z = self.sampling([z_mean, z_log_var], sample=True)
            kl = kl_lib.kl_estimate(
                z,
                z_mean,
                z_log_var,
                *posterior_parameters(means[-count:], log_vars[-count:]),
            )
            objective = ops.mean(kl)
        self.add_loss(ops.cast(self.kl_weight, "float32") * objective)
        logits = self.decoder(z, training=training)
        return {"logits": logits, "z_mean": z_mean, "z_log_var": z_log_var, "kl": kl}

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        del y, training  # Unsupervised: labels, if any, are ignored.
        if sample_weight is not None:
            raise ValueError(
                "A VAE does not take sample weights. Received a dataset or "
                "arguments that provide `sample_weight`."
            )
        reconstruction = -ops.mean(self.likelihood.log_prob(x, y_pred["logits"]))
        kl = ops.mean(y_pred["kl"])
        total = reconstruction
        for loss in self.losses:  # The KL term from `call`, plus regularizers.
            total = total + ops.sum(ops.cast(loss, "float32"))
        batch_size = x.shape[0]  # As Keras weights its `loss` metric.
        self.reconstruction_tracker.update_state(reconstruction, batch_size)
        self.kl_tracker.update_state(kl, batch_size)
        return _scale_for_replicas(total)

    def fit(self, x=None, y=None, *args, **kwargs):
        """`keras.Model.fit`; arrays are checked first (see `encode`).

        For a `tf.data.Dataset`, `shuffle` defaults to False: Keras ignores it
        there (shuffle in the pipeline) and would warn on every call.
        """
        self._check_data(x, "x")
        validation_data = kwargs.get("validation_data")
        if isinstance(validation_data, (tuple, list)) and validation_data:
            validation_data = validation_data[0]
        self._check_data(validation_data, "validation_data")
        if _is_tf_dataset(x) and not args:
            kwargs.setdefault("shuffle", False)
        try:
            return super().fit(x, y, *args, **kwargs)
        finally:
            self._unshare_ema_weights()

    def _unshare_ema_weights(self):
        """Gives each weight its own buffer after an EMA optimizer's `fit`.

        Keras ends `fit` by assigning the optimizer's moving averages to the
        weights. On JAX that makes both variables hold one array, and the next
        compiled call (`evaluate` donates the model's state) deletes it under
        the optimizer: saving then fails with "Array has been deleted".
        """
        if keras.backend.backend() != "jax":
            return
        optimizer = getattr(self.optimizer, "inner_optimizer", self.optimizer)
        if not getattr(optimizer, "use_ema", False):
            return
        for variable in self.trainable_weights:
            variable.assign(keras.ops.copy(variable.value))

    def evaluate(self, x=None, y=None, *args, **kwargs):
        """`keras.Model.evaluate`; arrays are checked first (see `encode`)."""
        self._check_data(x, "x")
        return super().evaluate(x, y, *args, **kwargs)

    def _check_data(self, data, name):
        if data is not None and _is_array(data):
            checks.check_images(
                data, self.image_shape, name, self.likelihood.unit_interval
            )
        spec = getattr(data, "element_spec", None)  # a tf.data.Dataset
        if isinstance(spec, (tuple, list)) and spec:
            spec = spec[0]
        if hasattr(spec, "shape") and hasattr(spec, "dtype"):
            # Before Keras starts: on JAX a step that fails while tracing
            # leaves the model's variables purged, breaking the next `fit`.
            checks.check_symbolic_images(spec, self.image_shape, name)

    def encode(self, x, batch_size=256):
        """Returns `(mean, log_var)` of q(z | x) as float32 NumPy arrays.

        `x` is a batch `[n, H, W, C]` of float images (in [0, 1] for the
        Bernoulli likelihoods); a wrong shape, dtype, NaN/Inf or range raises
        a `ValueError` before any compute.
        """
        x = self._checked_images(x)
        batch_size = checks.check_positive_int(batch_size, "batch_size")
        mean, log_var = self.encoder.predict(x, batch_size=batch_size, verbose=0)
        mean, log_var = np.asarray(mean, "float32"), np.asarray(log_var, "float32")
        checks.check_finite_output(mean, "encode", "x", x)
        checks.check_finite_output(log_var, "encode", "x", x)
        return mean, log_var

    def decode(self, z, batch_size=256):
        """Maps latent codes `[n, latent_dim]` to images: the likelihood's mean."""
        z = checks.check_latents(z, self.latent_dim).astype("float32")
        batch_size = checks.check_positive_int(batch_size, "batch_size")
        logits = self.decoder.predict(z, batch_size=batch_size, verbose=0)
        images = ops.convert_to_numpy(self.likelihood.mean(logits))
        return checks.check_finite_output(images, "decode", "z", z)

    def sample(self, num, seed=None):
        """Decodes `num` codes drawn from the prior; `seed` fixes them."""
        num = checks.check_positive_int(num, "num")
        z = self.prior.sample(num, self.encoder, self.latent_dim, seed=seed)
        return self.decode(ops.convert_to_numpy(z))

    def prior_components(self):
        """The prior as a uniform mixture of diagonal Gaussians.

        Returns float32 NumPy `(means, log_vars)`, each
        `[num_components, latent_dim]`: one zero row for N(0, I).
        """
        means, log_vars = self.prior.components(self.encoder, self.latent_dim)
        return (
            np.asarray(ops.convert_to_numpy(means), "float32"),
            np.asarray(ops.convert_to_numpy(log_vars), "float32"),
        )

    def reconstruct(self, x, sample=False, batch_size=256):
        """Encodes and decodes `x`: from the posterior mean, or a sample."""
        mean, log_var = self.encode(x, batch_size=batch_size)
        z = self.sampling([mean, log_var], sample=sample)
        return self.decode(ops.convert_to_numpy(z), batch_size=batch_size)

    def _checked_images(self, x):
        return checks.check_images(
            x, self.image_shape, "x", self.likelihood.unit_interval
        ).astype("float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "encoder": keras.saving.serialize_keras_object(self.encoder),
                "decoder": keras.saving.serialize_keras_object(self.decoder),
                "likelihood": keras.saving.serialize_keras_object(self.likelihood),
                "beta": self.beta,
                "free_bits": self.free_bits,
                "seed": self.seed,
                "prior": keras.saving.serialize_keras_object(self.prior),
            }
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        for key in ("encoder", "decoder", "likelihood", "prior"):
            if key not in config:  # `prior`: files saved before it existed
                continue
            config[key] = keras.saving.deserialize_keras_object(
                config[key], custom_objects=custom_objects
            )
        return cls(**config)
