"""In-memory sources: IDX directories and `.npz` files, as NumPy arrays."""

import os

import numpy as np

from keras_vae.data.errors import DataError
from keras_vae.data.idx import find_idx
from keras_vae.data.idx import read_idx

_IDX_STEMS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def check_images_array(spec, x, what):
    """Returns `x` as NHWC uint8 or float32 in [0, 1], or raises DataError."""
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[-1] not in (1, 3, 4) or x.shape[0] == 0:
        raise DataError(
            spec,
            f"{what} must be images shaped (N, H, W) or (N, H, W, C) with C in "
            f"(1, 3, 4) and N > 0. Received: shape={x.shape}",
        )
    if x.dtype == np.uint8:
        return x
    if not np.issubdtype(x.dtype, np.floating):
        raise DataError(
            spec, f"{what} must be uint8 or float in [0, 1]. Received: dtype={x.dtype}"
        )
    x = x.astype("float32", copy=False)
    if not np.isfinite(x).all() or x.min() < 0.0 or x.max() > 1.0:
        raise DataError(
            spec,
            f"{what} floats must be finite and in [0, 1]. Received: values in "
            f"[{np.nanmin(x):g}, {np.nanmax(x):g}]",
        )
    return x


def _check_labels(spec, x, y, what):
    if y is None:
        return None
    y = np.asarray(y).reshape(-1)
    if len(y) != len(x) or not np.issubdtype(y.dtype, np.integer):
        raise DataError(
            spec,
            f"{what} labels must be {len(x)} integers, one per image. Received: "
            f"shape={y.shape}, dtype={y.dtype}",
        )
    return y.astype("int64")


def load_idx_dir(spec, directory):
    """`{"train": (x, y), "test": (x, y)}` from MNIST-format files; y may be None."""
    if not os.path.isdir(directory):
        raise DataError(spec, f"directory not found: {directory}")
    splits = {}
    for split, (image_stem, label_stem) in _IDX_STEMS.items():
        image_path = find_idx(directory, image_stem)
        if image_path is None:
            continue
        try:
            x = check_images_array(spec, read_idx(image_path), image_path)
            label_path = find_idx(directory, label_stem)
            y = read_idx(label_path) if label_path else None
        except (ValueError, FileNotFoundError) as error:
            raise DataError(spec, str(error)) from error
        splits[split] = (x, _check_labels(spec, x, y, label_path))
    if "train" not in splits:
        raise DataError(
            spec,
            f"no {_IDX_STEMS['train'][0]}[.gz] in {directory} (MNIST-format "
            f"IDX files expected)",
        )
    return splits


def load_npz(spec, path):
    """Arrays `x` (and `y`), or `x_train`/`x_test` (and `y_*`) as keras.datasets."""
    if not os.path.isfile(path):
        raise DataError(spec, f"file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except (ValueError, OSError, EOFError) as error:
        raise DataError(spec, f"cannot read {path} as .npz: {error}") from error
    splits = {}
    for split, x_key, y_key in (
        ("train", "x", "y"),
        ("train", "x_train", "y_train"),
        ("test", "x_test", "y_test"),
    ):
        if x_key in arrays and split not in splits:
            x = check_images_array(spec, arrays[x_key], f"array {x_key!r}")
            splits[split] = (x, _check_labels(spec, x, arrays.get(y_key), y_key))
    if "train" not in splits:
        raise DataError(
            spec,
            f"{path} needs an array 'x' or 'x_train'. Received arrays: "
            f"{sorted(arrays)}",
        )
    return splits
