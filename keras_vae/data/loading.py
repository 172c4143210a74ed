"""`keras_vae.data.load`: any supported spec -> a batched tf.data pipeline."""

import math
import os

import numpy as np
import tensorflow as tf

from keras_vae.data import arrays
from keras_vae.data import folder
from keras_vae.data import pipeline
from keras_vae.data import splits
from keras_vae.data import tfds_source
from keras_vae.data.errors import DataError

DEBIAN_DIRS = {"fashion_mnist": "/usr/share/datasets/fashion-mnist"}
NAMED = ("fashion_mnist", "mnist")
PREFIXES = ("tfds", "idx", "folder", "npz")
ON_BAD_FILE = ("raise", "skip")
# Decoded examples are cached in memory up to this size; larger sources stream.
CACHE_BYTES = 2 * 1024**3
SHUFFLE_BUFFER = 60_000  # In-memory or cached: a full shuffle up to this size.
STREAM_SHUFFLE_BUFFER = 1_000  # Streamed TFDS examples, after file shuffling.


def _named_source(spec):
    """Local IDX directory for a named data set, or None to use TFDS."""
    candidates = []
    if os.environ.get("KERAS_VAE_DATA_DIR"):
        candidates.append(os.path.join(os.environ["KERAS_VAE_DATA_DIR"], spec))
    if spec in DEBIAN_DIRS:
        candidates.append(DEBIAN_DIRS[spec])
    for directory in candidates:
        if os.path.isdir(directory) and os.listdir(directory):
            return directory
    return None


def _how_to_get(spec):
    debian = (
        "`apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or "
        if spec == "fashion_mnist"
        else ""
    )
    return (
        f"Get it with {debian}MNIST-format IDX files (train-images-idx3-ubyte.gz, "
        f"...) in $KERAS_VAE_DATA_DIR/{spec}, or let TFDS download it "
        "(needs internet; honours TFDS_DATA_DIR)."
    )


def _check_args(
    spec,
    split,
    batch_size,
    image_size,
    binarize,
    channels,
    validation_fraction,
    on_bad_file,
    max_examples,
):
    parsed = splits.parse_split(split)
    if parsed is None:
        raise DataError(
            spec,
            f"unknown split {split!r}; expected one of {list(splits.SPLITS)}, "
            "optionally sliced like 'train[:90%]' or 'test[:1000]'.",
        )
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, int)
        or batch_size < 1
    ):
        raise DataError(
            spec, f"batch_size must be an int >= 1. Received: {batch_size!r}"
        )
    if binarize not in pipeline.BINARIZE:
        raise DataError(
            spec,
            f"binarize must be one of {list(pipeline.BINARIZE)}. "
            f"Received: {binarize!r}",
        )
    if channels not in (None, 1, 3):
        raise DataError(spec, f"channels must be None, 1 or 3. Received: {channels!r}")
    if (
        not isinstance(validation_fraction, (int, float))
        or not 0 <= validation_fraction < 1
    ):
        raise DataError(
            spec,
            f"validation_fraction must be in [0, 1). Received: {validation_fraction!r}",
        )
    if on_bad_file not in ON_BAD_FILE:
        raise DataError(
            spec,
            f"on_bad_file must be one of {list(ON_BAD_FILE)}. "
            f"Received: {on_bad_file!r}",
        )
    if max_examples is not None and (
        isinstance(max_examples, bool)
        or not isinstance(max_examples, int)
        or max_examples < 1
    ):
        raise DataError(
            spec,
            f"max_examples must be None or an int >= 1. Received: {max_examples!r}",
        )
    if image_size is not None:
        size = (image_size, image_size) if isinstance(image_size, int) else image_size
        try:
            size = tuple(int(d) for d in size)
        except (TypeError, ValueError):
            size = ()
        if len(size) != 2 or min(size) < 1:
            raise DataError(
                spec,
                "image_size must be an int or (height, width). "
                f"Received: {image_size!r}",
            )
        image_size = size
    return parsed, image_size


def _array_examples(spec, source, parsed, validation_fraction, max_examples):
    train_x = source["train"][0]
    n_test = len(source["test"][0]) if "test" in source else 0
    base, lo, hi = splits.split_range(parsed, len(train_x), n_test, validation_fraction)
    if base not in source:
        raise DataError(spec, f"no {base} images (split {parsed[0]!r})")
    if parsed[0] == "validation" and not validation_fraction:
        raise DataError(
            spec,
            "split 'validation' is carved out of train: pass validation_fraction "
            "(e.g. 0.1), to both the train and the validation load.",
        )
    x, y = source[base]
    examples = _indexed_slices(spec, parsed, x, y, lo, hi, max_examples)
    return examples, y is not None, x.shape[1:], x.dtype.name


def load(
    spec,
    split="train",
    batch_size=128,
    image_size=None,
    binarize=None,
    with_labels=False,
    shuffle=None,
    seed=None,
    max_examples=None,
    validation_fraction=0.0,
    channels=None,
    data_dir=None,
    on_bad_file="raise",
    cache=True,
):
    """Returns a `tf.data.Dataset` of float32 NHWC image batches in [0, 1].

    Args:
        spec: "fashion_mnist" or "mnist" (from `$KERAS_VAE_DATA_DIR/<name>`,
            then Debian's `/usr/share/datasets/fashion-mnist`, then TFDS),
            "tfds:<name>[/<config>]", "idx:<dir>", "folder:<dir>" or
            "npz:<file>".
        split: "train", "test" or "validation", optionally sliced like TFDS:
            "train[:90%]", "test[:1000]" (slices index the whole split).
        batch_size: int.
        image_size: int or (height, width) to resize to (antialiased).
        binarize: None; "static" (one Bernoulli sample per image, fixed by
            `seed` and the image's index); "dynamic" (a new sample every
            epoch, the likelihood-benchmark standard); "threshold" (> 0.5).
        with_labels: yield `(images, labels)`; labels are int64 class indices.
        shuffle: shuffle every epoch; None means True for "train" only.
        seed: makes shuffling and binarization reproducible.
        max_examples: keep only the first N examples of the split.
        validation_fraction: with f > 0, "validation" is the last f of train
            and "train" the rest; pass the same f to both loads.
        channels: None (as stored; folders: 1 if all images are grayscale,
            else 3), 1 or 3.
        data_dir: TFDS data directory (default: TFDS_DATA_DIR or TFDS's).
        on_bad_file: for folders, "raise" (naming the files) or "skip" (with
            a warning).
        cache: cache decoded examples in memory when they fit in
            `CACHE_BYTES` (2 GiB); larger sources stream from disk with
            flat memory (folders shuffle their file list instead).

    Raises:
        DataError (a ValueError) naming the spec and what is wrong.
    """
    if not isinstance(spec, str) or not spec:
        raise DataError(spec, "a data spec must be a non-empty string")
    parsed, image_size = _check_args(
        spec,
        split,
        batch_size,
        image_size,
        binarize,
        channels,
        validation_fraction,
        on_bad_file,
        max_examples,
    )
    if shuffle is None:
        shuffle = parsed[0] == "train"
    seed_value = 0 if seed is None else int(seed)
    kind, _, target = spec.partition(":")

    if spec in NAMED:
        directory = _named_source(spec)
        kind, target = ("idx", directory) if directory else ("tfds", spec)
    elif kind not in PREFIXES or not target:
        raise DataError(
            spec,
            f"unknown spec; expected one of {list(NAMED)} or a prefix "
            f"{[p + ':' for p in PREFIXES]} followed by a name or path.",
        )

    if kind in ("idx", "npz"):
        source = (arrays.load_idx_dir if kind == "idx" else arrays.load_npz)(
            spec, target
        )
        examples, has_labels, shape, dtype = _array_examples(
            spec, source, parsed, validation_fraction, max_examples
        )
        n = len(examples[0])
        if channels == shape[-1]:
            channels = None
        needs_map = image_size is not None or channels is not None
        out_shape = (*(image_size or shape[:2]), channels or shape[-1])
        in_memory = True
        # With nothing to do per example, batches come straight from the arrays.
        batched = not needs_map and binarize != "static"
        if batched:
            ds = pipeline.batch_rows(
                n, batch_size=batch_size, shuffle=shuffle, seed=seed
            )
        else:
            ds = tf.data.Dataset.from_tensor_slices(examples)
    elif kind == "folder":
        paths, labels, image_size, channels = folder.folder_source(
            spec,
            target,
            image_size=image_size,
            channels=channels,
            on_bad_file=on_bad_file,
        )
        ds, n, has_labels = _folder_examples(
            spec, paths, labels, parsed, validation_fraction, max_examples
        )
        needs_map, out_shape, dtype, in_memory = (
            True,
            (*image_size, channels),
            "uint8",
            False,
        )
        batched = False
    else:
        try:
            examples, features, n = tfds_source.tfds_examples(
                spec,
                target,
                parsed,
                validation_fraction=validation_fraction,
                data_dir=data_dir,
                shuffle_files=shuffle,
            )
        except DataError as error:
            if spec in NAMED:
                raise DataError(
                    spec, f"no local copy, and {error}. {_how_to_get(spec)}"
                ) from error
            raise
        has_labels = "label" in features
        if max_examples is not None:
            examples = examples.take(max_examples)
            n = max_examples if n is None else min(n, max_examples)
        ds = examples.enumerate().map(
            lambda i, e: (
                e["image"],
                e["label"] if has_labels else tf.constant(-1, tf.int64),
                i,
            ),
            num_parallel_calls=pipeline.AUTOTUNE,
        )
        stored = tuple(features["image"].shape)
        out_shape = (*(image_size or stored[:2]), channels or stored[-1])
        needs_map = image_size is not None or channels is not None
        dtype, in_memory, batched = "uint8", False, False

    if with_labels and not has_labels:
        raise DataError(spec, "with_labels=True, but this source has no labels")
    if batched:
        return pipeline.finish_batches(
            ds,
            binarize=binarize,
            seed=seed,
            with_labels=with_labels,
            gather_from=examples,
        )
    pixel_bytes = 4 if (dtype != "uint8" or binarize == "static") else 1
    fits = (
        cache
        and n is not None
        and None not in out_shape
        and n * math.prod(out_shape) * pixel_bytes <= CACHE_BYTES
    )
    if kind == "folder":
        if shuffle and not fits:
            # Streaming: shuffle the paths (cheap), decode after; memory stays flat.
            ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
        ds = ds.map(
            lambda p, y, i: (folder.decode(p), y, i),
            num_parallel_calls=pipeline.AUTOTUNE,
        )
    if needs_map:
        ds = ds.map(
            lambda x, y, i: (pipeline.fit_image(x, image_size, channels), y, i),
            num_parallel_calls=pipeline.AUTOTUNE,
        )
    if binarize == "static":
        ds = ds.map(
            lambda x, y, i: (pipeline.static_binarize(x, i, seed_value), y, i),
            num_parallel_calls=pipeline.AUTOTUNE,
        )
    if fits and (not in_memory or needs_map or binarize == "static"):
        ds = ds.cache()
    if not shuffle:
        buffer = 0
    elif in_memory or fits:
        buffer = min(n, SHUFFLE_BUFFER)
    else:  # A streamed folder is already shuffled; TFDS shuffles its files.
        buffer = 0 if kind == "folder" else STREAM_SHUFFLE_BUFFER
    return pipeline.finish(
        ds,
        batch_size=batch_size,
        binarize=binarize,
        seed=seed,
        with_labels=with_labels,
        shuffle_buffer=buffer,
    )


def _folder_examples(spec, paths, labels, parsed, validation_fraction, max_examples):
    base, lo, hi = splits.split_range(parsed, len(paths), 0, validation_fraction)
    if base == "test" or (parsed[0] == "validation" and not validation_fraction):
        raise DataError(
            spec,
            "an image folder is one split, 'train'; carve 'validation' out of it "
            "with validation_fraction, or point another spec at the test images.",
        )
    examples = _indexed_slices(
        spec, parsed, np.asarray(paths), labels, lo, hi, max_examples
    )
    ds = tf.data.Dataset.from_tensor_slices(examples)
    return ds, len(examples[0]), labels is not None


def _indexed_slices(spec, parsed, items, labels, lo, hi, max_examples):
    """`(items, labels, index)` arrays for `items[lo:hi]`.

    The index (position in the whole split) seeds static binarization, so a
    sample does not depend on shuffling or slicing. Missing labels are -1.
    """
    if max_examples is not None:
        hi = min(hi, lo + max_examples)
    if hi <= lo:
        raise DataError(spec, f"split {parsed} selects no examples")
    if labels is None:
        labels = np.full(hi - lo, -1, "int64")
    else:
        labels = np.asarray(labels[lo:hi], "int64")
    return items[lo:hi], labels, np.arange(lo, hi, dtype="int64")
