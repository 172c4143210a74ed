"""tf.data stages shared by every source: convert, resize, binarize, batch.

Sources produce single examples `(image, label, index)` with images as uint8
(or float32 in [0, 1]) HWC tensors; `finish` turns them into batches of
float32 NHWC images in [0, 1], as the tf.data performance guide advises:
vectorised work after `batch`, parallel maps, `prefetch(AUTOTUNE)`. Arrays
already in memory skip the per-example stage: `batch_rows` draws each
batch's rows and `finish_batches` gathers and converts them in one map.
"""

import functools

import tensorflow as tf

AUTOTUNE = tf.data.AUTOTUNE
# tf.data's autotuner is off: with it, an epoch's iterator often stalled at
# its end, idle, until the autotuner's next wake-up (its period doubles from
# 10 ms, so epochs of about 1.3 s took 2.57 s), on the TensorFlow and the JAX
# backend alike; 5 of 19 steady JAX `mlp` epochs in one measurement, none of
# 19 (twice) without it (benchmarks/HISTORY.md). AUTOTUNE parallelism then means one
# call per CPU core, which these vectorised, per-batch maps do not outgrow.
_OPTIONS = tf.data.Options()
_OPTIONS.autotune.enabled = False
BINARIZE = (None, "static", "dynamic", "threshold")


def to_unit_float(images):
    """uint8 -> float32 / 255; floats pass through as float32."""
    if images.dtype == tf.uint8:
        return tf.cast(images, tf.float32) / 255.0
    return tf.cast(images, tf.float32)


def to_channels(image, channels):
    """Converts an HWC image with 1-4 channels (alpha dropped) to `channels`."""
    count = tf.shape(image)[-1]
    if channels == 1:
        image = tf.cond(
            count < 3,
            lambda: image[..., :1],
            lambda: tf.image.rgb_to_grayscale(image[..., :3]),
        )
    else:
        image = tf.cond(
            count < 3,
            lambda: tf.tile(image[..., :1], [1, 1, 3]),
            lambda: image[..., :3],
        )
    image.set_shape([None, None, channels])
    return image


def fit_image(image, image_size, channels):
    """Converts to `channels` (if given) and resizes (antialiased) to `image_size`."""
    if channels is not None:
        image = to_channels(image, channels)
    if image_size is not None:
        dtype = image.dtype
        image = tf.image.resize(image, image_size, antialias=True)
        if dtype == tf.uint8:
            image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
    return image


def static_binarize(image, index, seed):
    """One Bernoulli sample per example, fixed by (seed, example index)."""
    probs = to_unit_float(image)
    noise = tf.random.stateless_uniform(
        tf.shape(probs), seed=tf.stack([tf.cast(seed, tf.int64), index])
    )
    return tf.cast(noise < probs, tf.float32)


def finish(ds, *, batch_size, binarize, seed, with_labels, shuffle_buffer=0):
    """Shuffles (if asked) and batches single examples, then `finish_batches`."""
    if shuffle_buffer:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size)
    return finish_batches(ds, binarize=binarize, seed=seed, with_labels=with_labels)


def batch_rows(n, *, batch_size, shuffle, seed):
    """The rows of each batch of `n` in-memory examples, as 1-tuples.

    With `finish_batches(..., gather_from=arrays)` this yields what
    `from_tensor_slices(arrays).shuffle(n).batch(batch_size)` would, but with
    one permutation per epoch and one gather per batch: tf.data does
    per-batch work instead of per-example work (the shuffle buffer alone moved
    every example through a queue), which matters when the input pipeline and
    the model share a few CPU cores. Every new iterator draws a new order
    from `seed`, as `shuffle(reshuffle_each_iteration=True)` does.
    """
    steps = -(-n // batch_size)
    if shuffle:
        # The shuffle's seeds are folded with 1 so they differ from the
        # dynamic binarization's stream, which starts from the same `seed`.
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        orders = (
            seeds.batch(2)
            .take(1)
            .map(
                lambda pair: tf.random.experimental.stateless_shuffle(
                    tf.range(n, dtype=tf.int64),
                    seed=tf.random.experimental.stateless_fold_in(pair, 1),
                )
            )
        )
    else:
        orders = tf.data.Dataset.from_tensors(tf.range(n, dtype=tf.int64))

    def batches(order):
        return tf.data.Dataset.range(steps).map(
            lambda step: (order[step * batch_size : (step + 1) * batch_size],)
        )

    # `flat_map` hides the count that Keras and `cardinality()` read.
    return orders.flat_map(batches).apply(
        tf.data.experimental.assert_cardinality(steps)
    )


def _convert(images, labels, pair, *, binarize, with_labels):
    """A batch as `load` yields it: float32 in [0, 1], binarized if asked."""
    if binarize == "dynamic":
        probs = to_unit_float(images)
        noise = tf.random.stateless_uniform(tf.shape(probs), seed=pair)
        images = tf.cast(noise < probs, tf.float32)
    else:
        images = to_unit_float(images)
        if binarize == "threshold":
            images = tf.cast(images > 0.5, tf.float32)
    return (images, labels) if with_labels else images


def finish_batches(ds, *, binarize, seed, with_labels, gather_from=None):
    """Converts batches to float32 in [0, 1], binarizes, prefetches.

    `ds` yields `(images, labels, index)` batches or, with `gather_from` (the
    in-memory arrays `(images, labels, index)`), `batch_rows`' rows, which
    are gathered here. Everything happens in one map: each tf.data stage
    costs every batch a hand-off between threads, CPU time a two-core
    machine otherwise takes from the model.
    """
    if gather_from is None:

        def take(images, labels, index):
            return images, labels

    else:
        images, labels = (tf.constant(a) for a in gather_from[:2])

        def take(rows):
            return tf.gather(images, rows), tf.gather(labels, rows)

    convert = functools.partial(_convert, binarize=binarize, with_labels=with_labels)
    if binarize == "dynamic":
        # A fresh Bernoulli sample of every image at every epoch, reproducible
        # given `seed`: each batch draws its noise from a per-epoch seed stream.
        seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip((ds, seeds.batch(2)))
        ds = ds.map(
            lambda batch, pair: convert(*take(*batch), pair),
            num_parallel_calls=AUTOTUNE,
        )
    else:
        ds = ds.map(
            lambda *batch: convert(*take(*batch), None), num_parallel_calls=AUTOTUNE
        )
    return ds.prefetch(AUTOTUNE).with_options(_OPTIONS)
