"""Input checks for the public methods: say what was expected and received.

The eager checks run on concrete arrays before any compute. The symbolic check
runs while a model traces `call`, so `fit` on a wrongly shaped or integer
dataset fails at its first step with the same message instead of deep inside
a backend.
"""

import numpy as np
from keras import backend


def _dtype_name(x):
    try:
        return backend.standardize_dtype(x.dtype)
    except (AttributeError, ValueError, TypeError):
        return str(getattr(x, "dtype", type(x).__name__))


def to_numpy(x, name):
    """Converts `x` to a NumPy array, or raises a ValueError naming `name`."""
    if x is None:
        raise ValueError(f"`{name}` must be an array. Received: {name}=None")
    if hasattr(x, "detach") and hasattr(x, "cpu") and hasattr(x, "numpy"):
        # torch.Tensor: `.numpy()` avoids NumPy 2's __array__ deprecation path;
        # NumPy has no bfloat16, so that one is widened (still a float).
        x = x.detach().cpu()
        if str(x.dtype) == "torch.bfloat16":
            x = x.float()
        return x.numpy()
    try:
        array = np.asarray(x)
    except Exception as error:  # noqa: BLE001 - re-raised with the input's name
        raise ValueError(
            f"`{name}` must be convertible to a NumPy array. "
            f"Received: {name} of type {type(x).__name__} ({error})"
        ) from error
    return array


def _check_float(array, name):
    dtype = _dtype_name(array)
    if not backend.is_float_dtype(dtype):
        hint = ""
        if dtype == "uint8":
            hint = " Scale uint8 pixels to [0, 1] first, e.g. `x / 255.0`."
        raise ValueError(
            f"`{name}` must have a floating dtype. Received: dtype={dtype}.{hint}"
        )


def _check_finite(array, name):
    # The model computes in float32: beyond its range counts as infinite.
    with np.errstate(over="ignore"):
        finite = np.isfinite(array.astype("float32", copy=False))
    if not finite.all():
        bad = int(array.size - np.count_nonzero(finite))
        raise ValueError(
            f"`{name}` must be finite in float32 (|value| <= 3.4e38). Received: "
            f"{bad} NaN, Inf or out-of-range value(s) among {array.size}."
        )


def check_images(x, image_shape, name="x", unit_interval=False):
    """Checks a batch of images `[batch, *image_shape]` and returns it as NumPy.

    Args:
        x: array-like.
        image_shape: tuple `(height, width, channels)` the model was built for.
        name: the argument's name, used in messages.
        unit_interval: whether values must lie in [0, 1].
    """
    array = to_numpy(x, name)
    expected = (None, *image_shape)
    if array.ndim != len(expected):
        raise ValueError(
            f"`{name}` must be a batch of images of shape {_fmt(expected)} "
            f"(rank {len(expected)}). Received: shape={array.shape} "
            f"(rank {array.ndim})."
        )
    if tuple(array.shape[1:]) != tuple(image_shape):
        raise ValueError(
            f"`{name}` must have shape {_fmt(expected)} "
            f"(height, width, channels). Received: shape={array.shape}."
        )
    if array.shape[0] == 0:
        raise ValueError(
            f"`{name}` must hold at least one image. Received: shape={array.shape}."
        )
    _check_float(array, name)
    _check_finite(array, name)
    if unit_interval:
        low, high = float(np.min(array)), float(np.max(array))
        if low < 0.0 or high > 1.0:
            raise ValueError(
                f"`{name}` must lie in [0, 1] for this likelihood. "
                f"Received: values in [{low:g}, {high:g}]."
            )
    return array


def check_latents(z, latent_dim, name="z"):
    """Checks a batch of latent codes `[batch, latent_dim]`; returns NumPy."""
    array = to_numpy(z, name)
    if array.ndim != 2 or array.shape[1] != latent_dim:
        raise ValueError(
            f"`{name}` must have shape (None, {latent_dim}) (a batch of latent "
            f"codes). Received: shape={array.shape}."
        )
    if array.shape[0] == 0:
        raise ValueError(
            f"`{name}` must hold at least one code. Received: shape={array.shape}."
        )
    _check_float(array, name)
    _check_finite(array, name)
    return array


def check_finite_output(result, method, name, given):
    """Raises if `method` turned finite input into NaN or Inf (inputs so large
    that the network overflows float32); returns `result` otherwise."""
    finite = np.isfinite(result)
    if not finite.all():
        largest = float(np.max(np.abs(given.astype("float64"))))
        raise ValueError(
            f"`{method}` produced {int(result.size - finite.sum())} NaN or Inf "
            f"value(s): `{name}` is too large for the network in float32. "
            f"Received: max |{name}| = {largest:g}."
        )
    return result


def check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"`{name}` must be a positive int. Received: {name}={value!r}")
    if value <= 0:
        raise ValueError(f"`{name}` must be a positive int. Received: {name}={value!r}")
    return int(value)


def check_symbolic_images(x, image_shape, name="inputs"):
    """Trace-time check of a tensor's rank, static shape and dtype."""
    shape = tuple(x.shape)
    expected = (None, *image_shape)
    if len(shape) != len(expected) or any(
        got is not None and want is not None and got != want
        for got, want in zip(shape[1:], expected[1:], strict=True)
    ):
        raise ValueError(
            f"`{name}` must be a batch of images of shape {_fmt(expected)}. "
            f"Received: shape={shape}."
        )
    _check_float(x, name)


def _fmt(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"
