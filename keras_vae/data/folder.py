"""Image folders: PNG, JPEG, BMP and GIF files, optionally in class folders."""

import os
import warnings

import tensorflow as tf

from keras_vae.data.errors import DataError

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


def list_images(spec, directory):
    """Sorted file paths and labels (index of the class sub-folder, or None).

    Every non-hidden file counts: a stray non-image file is reported by
    `scan`, not silently dropped. Labels exist when all files sit in
    sub-folders; their sorted names are the classes.
    """
    if not os.path.isdir(directory):
        raise DataError(spec, f"directory not found: {directory}")
    paths = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        paths.extend(
            os.path.join(root, name)
            for name in sorted(files)
            if not name.startswith(".")
        )
    if not paths:
        raise DataError(spec, f"no image files in {directory}")
    tops = [os.path.relpath(p, directory).split(os.sep)[0] for p in paths]
    nested = all(os.sep in os.path.relpath(p, directory) for p in paths)
    if not nested:
        return paths, None, []
    classes = sorted(set(tops))
    return paths, [classes.index(t) for t in tops], classes


def decode(path):
    """The image file at `path` as uint8 HWC, with its stored channels."""
    image = tf.io.decode_image(tf.io.read_file(path), expand_animations=False)
    image.set_shape([None, None, None])
    return image


def _is_gray(image):
    """True when every pixel has equal R, G and B (palette GIFs/BMPs decode to RGB)."""
    if_rgb = tf.reduce_all(tf.equal(image[..., :1], image[..., 1:3]))
    return tf.logical_or(tf.shape(image)[-1] < 3, if_rgb)


def scan(paths):
    """Decodes every file once: `(good paths, shapes, grayness, bad paths)`.

    Runs as a parallel tf.data pass; undecodable files are dropped by
    `ignore_errors` and identified by what is missing, so the caller can name
    them before training starts.
    """
    ds = tf.data.Dataset.from_tensor_slices(paths).map(
        lambda p: _describe(p),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    found = {}
    for path, shape, gray in ds.ignore_errors().as_numpy_iterator():
        found[path.decode()] = (tuple(int(d) for d in shape), bool(gray))
    good = [p for p in paths if p in found]
    bad = [p for p in paths if p not in found]
    return good, [found[p][0] for p in good], [found[p][1] for p in good], bad


def _describe(path):
    image = decode(path)
    return path, tf.shape(image), _is_gray(image)


def folder_source(spec, directory, *, image_size, channels, on_bad_file):
    """Returns `(paths, labels, image_size, channels)` after checking files."""
    paths, labels, _ = list_images(spec, directory)
    good, shapes, grays, bad = scan(paths)
    if bad:
        listed = ", ".join(bad[:5]) + (
            f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        )
        if on_bad_file == "raise":
            raise DataError(
                spec,
                f"{len(bad)} file(s) are not readable images ({listed}). Remove "
                "them, or pass on_bad_file='skip' to skip them with a warning.",
            )
        warnings.warn(
            f"Data spec {spec!r}: skipping {len(bad)} unreadable file(s): {listed}",
            stacklevel=3,
        )
        keep = set(good)
        if labels is not None:
            labels = [
                label for p, label in zip(paths, labels, strict=True) if p in keep
            ]
    if not good:
        raise DataError(spec, f"no readable images in {directory}")
    if image_size is None:
        sizes = sorted({s[:2] for s in shapes})
        if len(sizes) > 1:
            first = good[[s[:2] for s in shapes].index(sizes[0])]
            second = good[[s[:2] for s in shapes].index(sizes[1])]
            raise DataError(
                spec,
                f"images have {len(sizes)} different sizes (e.g. {sizes[0]} in "
                f"{first}, {sizes[1]} in {second}); pass image_size=(H, W).",
            )
        image_size = sizes[0]
    if channels is None:
        channels = 1 if all(grays) else 3
    return good, labels, tuple(image_size), channels
