"""`SubPixelConv2DTranspose`: a `Conv2DTranspose` that XLA's CPU backend runs fast.

A stride-s transposed convolution with "same" padding is, output phase by
output phase, an ordinary convolution of the input: output pixel
`(s*m + a, s*n + b)` only ever sees the kernel taps of phase `(a, b)`. So it
equals one stride-1 convolution of the (padded) input to `s*s*filters`
channels, followed by a depth-to-space (the "sub-pixel convolution" of Shi et
al., 2016). Same weights, same function (to float32 rounding).

Why: XLA's CPU backend runs the gradients of a strided transposed
convolution (a convolution with input dilation) through a slow generic loop.
On the 2-core development CPU the forward and backward pass of the `conv`
architecture's 64->32 decoder layer took 258 ms as a transposed convolution
and 84 ms in this form, and a `conv` epoch on JAX 3.3x less time, a `dcgan`
one 2.3x (benchmarks/HISTORY.md). On an H200 with JAX the form trained
`conv` 1.19x and `dcgan` 1.12-1.14x faster too (two calls each;
benchmarks/RESULTS.md, GPU). TensorFlow's and PyTorch's oneDNN kernels run
the transposed form well, and the sub-pixel form costs more multiply-adds
(16/9 for 3x3 stride 2, 9/4 for 4x4), so "auto" uses it on JAX's CPU and GPU
backends only (TPUs are unmeasured), and not for stride 1 or few filters,
where XLA's transposed form was the faster on the CPU.
"""

import functools

import keras
import numpy as np
from keras import ops

FORMULATIONS = ("auto", "transposed", "sub_pixel")

# "auto" keeps the transposed form for layers to fewer channels (the logits
# layers): there XLA's transposed form was the faster one (benchmarks/HISTORY.md).
AUTO_MIN_FILTERS = 8


def phase_taps(kernel_size, stride):
    """The sub-pixel view of one axis of a "same" transposed convolution.

    Returns:
        `(taps, low, high)`: `taps[a]` lists the `(offset, tap)` pairs with
        `y[stride * m + a] = sum(x[m + offset] * w[tap])`, and `low`/`high`
        are the smallest and largest offsets over all phases.
    """
    pad_before = max(kernel_size - stride, 0) // 2
    taps = [
        [
            ((a + pad_before - t) // stride, t)
            for t in range(kernel_size)
            if (a + pad_before - t) % stride == 0
        ]
        for a in range(stride)
    ]
    offsets = [offset for phase in taps for offset, _ in phase]
    return taps, min(offsets), max(offsets)


@functools.cache
def _selection(kernel_size, strides):
    """0/1 array `[window_h, window_w, s_h, s_w, k_h, k_w]` that places each
    kernel tap at its phase and window position. Cached: eager backends
    call it on every step, and nothing writes to the array."""
    (taps_h, low_h, high_h), (taps_w, low_w, high_w) = (
        phase_taps(k, s) for k, s in zip(kernel_size, strides, strict=True)
    )
    select = np.zeros(
        (high_h - low_h + 1, high_w - low_w + 1) + tuple(strides) + tuple(kernel_size),
        "float32",
    )
    for a, phase_h in enumerate(taps_h):
        for offset_h, tap_h in phase_h:
            for b, phase_w in enumerate(taps_w):
                for offset_w, tap_w in phase_w:
                    select[offset_h - low_h, offset_w - low_w, a, b, tap_h, tap_w] = 1.0
    padding = ((0, 0), (-low_h, high_h), (-low_w, high_w), (0, 0))
    return select, padding


def sub_pixel_conv_transpose(inputs, kernel, strides):
    """`ops.conv_transpose(inputs, kernel, strides, padding="same")` for
    channels-last inputs, as one stride-1 convolution and a depth-to-space.

    Args:
        inputs: `[batch, height, width, in_channels]`.
        kernel: `[k_h, k_w, out_channels, in_channels]`, as `Conv2DTranspose`
            stores it.
        strides: `(s_h, s_w)`.
    """
    k_h, k_w, filters, _ = kernel.shape
    s_h, s_w = strides
    select, padding = _selection((int(k_h), int(k_w)), (int(s_h), int(s_w)))
    # [window_h, window_w, in, s_h, s_w, out] -> one kernel to s_h*s_w*out.
    window = ops.einsum("efabij,ijoc->efcabo", ops.cast(select, kernel.dtype), kernel)
    window = ops.reshape(window, window.shape[:3] + (s_h * s_w * filters,))
    height, width = ops.shape(inputs)[1], ops.shape(inputs)[2]
    phases = ops.conv(ops.pad(inputs, padding), window, padding="valid")
    phases = ops.reshape(phases, (-1, height, width, s_h, s_w, filters))
    phases = ops.transpose(phases, (0, 1, 3, 2, 4, 5))
    return ops.reshape(phases, (-1, height * s_h, width * s_w, filters))


def _sub_pixel_by_default():
    if keras.backend.backend() != "jax":
        return False
    import jax

    return jax.default_backend() in ("cpu", "gpu")


@keras.saving.register_keras_serializable(package="keras_vae")
class SubPixelConv2DTranspose(keras.layers.Conv2DTranspose):
    """`keras.layers.Conv2DTranspose` that can compute in sub-pixel form.

    The weights, their initialization and the function are those of
    `Conv2DTranspose`; only how the output is computed changes.

    Args:
        formulation: "transposed" (Keras's `ops.conv_transpose`),
            "sub_pixel" (one stride-1 convolution to `strides[0] *
            strides[1] * filters` channels, then depth-to-space; needs
            padding="same", channels_last, no dilation and no
            output_padding), or "auto": "sub_pixel" where it is supported,
            the stride is more than 1, there are at least 8 filters and the
            backend is JAX on a CPU or GPU; else "transposed".
        *args, **kwargs: those of `keras.layers.Conv2DTranspose`.
    """

    def __init__(self, *args, formulation="auto", **kwargs):
        super().__init__(*args, **kwargs)
        if formulation not in FORMULATIONS:
            raise ValueError(
                f"`formulation` must be one of {FORMULATIONS}. "
                f"Received: formulation={formulation!r}"
            )
        supported = (
            self.padding == "same"
            and self.data_format == "channels_last"
            and tuple(self.dilation_rate) == (1, 1)
            and self.output_padding is None
        )
        if formulation == "sub_pixel" and not supported:
            raise ValueError(
                'formulation="sub_pixel" needs padding="same", '
                "data_format='channels_last', dilation_rate=(1, 1) and "
                f"output_padding=None. Received: padding={self.padding!r}, "
                f"data_format={self.data_format!r}, "
                f"dilation_rate={self.dilation_rate}, "
                f"output_padding={self.output_padding}"
            )
        self.formulation = formulation
        self._sub_pixel = formulation == "sub_pixel" or (
            formulation == "auto"
            and supported
            and tuple(self.strides) != (1, 1)
            and self.filters >= AUTO_MIN_FILTERS
            and _sub_pixel_by_default()
        )

    @property
    def uses_sub_pixel(self):
        """Whether `call` computes in sub-pixel form ("auto" resolved)."""
        return self._sub_pixel

    def call(self, inputs):
        if not self._sub_pixel:
            return super().call(inputs)
        outputs = sub_pixel_conv_transpose(inputs, self.kernel, self.strides)
        if self.use_bias:
            outputs = ops.add(outputs, self.bias)
        return self.activation(outputs)

    def get_config(self):
        config = super().get_config()
        config["formulation"] = self.formulation
        return config
