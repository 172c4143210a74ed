"""`BatchNormalization`: Keras's layer, computed by the backend's fused kernel.

Keras 3 computes batch normalization from primitives on every backend: a
mean, a squared difference and another mean for the batch statistics, then a
scale and a shift, each a pass over the activations, as many again for the
gradients, and under mixed precision a cast to float32 and back around them.
TensorFlow's `FusedBatchNormV3` (oneDNN's kernel on the CPU, cuDNN's on a
GPU) and PyTorch's `native_batch_norm` normalize in one kernel forward and
one backward and read 16-bit activations directly, with float32
statistics. On the 2-core development CPU the `dcgan` VAE (three
BatchNormalization layers) trained 1.15-1.23x faster in float32 and
1.28-1.30x faster in `mixed_bfloat16` on TensorFlow with it, and
1.06-1.08x and 1.06-1.13x on the PyTorch backend, with 200-480 MB less
peak memory there (benchmarks/RESULTS.md, Mixed precision). Keras 2 used
TensorFlow's kernel by default (`fused=None`); Keras 3 dropped the argument.

Same weights, same config (plus `fused`), same function to float32 rounding:
the moving statistics take the biased batch variance, as Keras's layer does.
JAX fuses the primitives itself (XLA), so there this is Keras's layer.
"""

import keras

FUSED_DTYPES = ("float16", "bfloat16", "float32")
FUSED_BACKENDS = ("tensorflow", "torch")


def _fused_supported_by_config(layer):
    return (
        keras.backend.backend() in FUSED_BACKENDS
        and not layer.renorm
        and not layer.synchronized
    )


@keras.saving.register_keras_serializable(package="keras_vae")
class BatchNormalization(keras.layers.BatchNormalization):
    """`keras.layers.BatchNormalization` that uses the backend's fused kernel.

    Args:
        fused: None (default): the fused kernel where it applies (the
            TensorFlow and PyTorch backends; no `renorm` or `synchronized`; at call time
            2- to 5-D inputs normalized over their last axis in float16,
            bfloat16 or float32, without a mask), Keras's computation
            elsewhere. True: the same, but raise at construction where the
            backend or the configuration rules the kernel out. False:
            always Keras's computation.
        *args, **kwargs: those of `keras.layers.BatchNormalization`.
    """

    def __init__(self, *args, fused=None, **kwargs):
        super().__init__(*args, **kwargs)
        if fused not in (None, True, False):
            raise ValueError(
                f"`fused` must be None, True or False. Received: fused={fused!r}"
            )
        if fused is True and not _fused_supported_by_config(self):
            raise ValueError(
                "fused=True needs the TensorFlow or PyTorch backend, renorm=False and "
                "synchronized=False. Received: "
                f"backend={keras.backend.backend()!r}, renorm={self.renorm}, "
                f"synchronized={self.synchronized}"
            )
        self.fused = fused
        self._may_fuse = fused is not False and _fused_supported_by_config(self)

    @property
    def may_fuse(self):
        """Whether the backend and the configuration allow the fused kernel
        (the inputs decide the rest at call time: `uses_fused`)."""
        return self._may_fuse

    def uses_fused(self, inputs, mask=None):
        """Whether `call` on these inputs takes the backend's fused kernel."""
        rank = len(inputs.shape)
        return (
            self._may_fuse
            and mask is None
            and 2 <= rank <= 5
            and self.axis in (-1, rank - 1)
            and keras.backend.standardize_dtype(self.compute_dtype) in FUSED_DTYPES
        )

    def call(self, inputs, training=None, mask=None):
        if not self.uses_fused(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        training = bool(training and self.trainable)
        if keras.backend.backend() == "torch":
            return self._torch_fused_call(inputs, training)
        return self._tf_fused_call(inputs, training)

    def _update_moving_statistics(self, mean, variance):
        momentum = self.momentum
        self.moving_mean.assign(self.moving_mean * momentum + mean * (1.0 - momentum))
        self.moving_variance.assign(
            self.moving_variance * momentum + variance * (1.0 - momentum)
        )

    def _torch_fused_call(self, inputs, training):
        import torch

        x = keras.ops.cast(inputs, self.compute_dtype).movedim(-1, 1)  # N, C, ...
        gamma = self.gamma.value if self.scale else None
        beta = self.beta.value if self.center else None
        if training:
            y, mean, inverse_std = torch.native_batch_norm(
                x, gamma, beta, None, None, True, 0.0, self.epsilon
            )
            # The statistics the kernel normalized with: the batch mean and
            # 1 / sqrt(biased variance + epsilon).
            variance = inverse_std.detach().float().pow(-2) - self.epsilon
            self._update_moving_statistics(mean.detach().float(), variance)
        else:
            y, _, _ = torch.native_batch_norm(
                x,
                gamma,
                beta,
                self.moving_mean.value,
                self.moving_variance.value,
                False,
                0.0,
                self.epsilon,
            )
        return y.movedim(1, -1)

    def _tf_fused_call(self, inputs, training):
        import tensorflow as tf

        x = tf.cast(inputs, self.compute_dtype)
        rank = len(x.shape)
        channels = self.moving_mean.shape[0]
        if rank < 4:  # [N, C] or [N, L, C] as NHWC with H = 1 (and W = 1)
            x = tf.reshape(x, [-1, 1, 1 if rank == 2 else tf.shape(x)[1], channels])
        gamma = self.gamma.value if self.scale else tf.ones([channels])
        beta = self.beta.value if self.center else tf.zeros([channels])
        data_format = "NDHWC" if rank == 5 else "NHWC"
        if training:
            y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
                x,
                gamma,
                beta,
                epsilon=self.epsilon,
                data_format=data_format,
                is_training=True,
            )
            # The kernel returns the Bessel-corrected variance for the moving
            # average; Keras's layer (and its normalization) use the biased one.
            count = tf.cast(tf.size(x) // channels, "float32")
            variance = variance * ((count - 1.0) / tf.maximum(count, 1.0))
            self._update_moving_statistics(mean, variance)
        else:
            y, _, _ = tf.compat.v1.nn.fused_batch_norm(
                x,
                gamma,
                beta,
                mean=self.moving_mean.value,
                variance=self.moving_variance.value,
                epsilon=self.epsilon,
                data_format=data_format,
                is_training=False,
            )
        if rank < 4:
            y = tf.reshape(y, tf.shape(inputs))
        return y

    def get_config(self):
        config = super().get_config()
        config["fused"] = self.fused
        return config
